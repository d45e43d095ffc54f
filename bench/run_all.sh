#!/bin/sh
# One command per row of issue 14's goals table, on SQLite (a fresh file) and, when
# PG_URL is set (an empty database, e.g. postgresql://postgres@127.0.0.1/conveyor_bench),
# on PostgreSQL. Worker processes run with default flags. Needs the bench extra
# (pip install 'conveyor[bench]') and Redis on 127.0.0.1:6379 for the redis_sync row.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH=$PWD
for url in "" ${PG_URL:+"$PG_URL"}; do
  opt=${url:+--url $url}
  # processed/s sync no-op + enqueue one at a time + bulk + latency + worker CPU µs/job
  $PY bench/bench.py --job noop_sync $opt
  # processed/s async no-op (same lines)
  $PY bench/bench.py --job noop $opt
  # the side-by-side harness's everyday job: a sync job doing one Redis round trip
  $PY bench/bench.py --job redis_sync $opt
  # enqueue/s one at a time from 1, 4, 16 producer threads and 4 processes
  $PY bench/bench_enqueue.py $opt
  # durable steps/s with 1, 10, 100 concurrent runs x 20 steps
  $PY bench/bench_durable.py --runs 100 --steps 20 --concurrency 1,10,100 ${url:+--url $url}
  # bulk cancel, purge, count/list filters, CLI cancel/retry over 10k and 100k stored jobs
  $PY bench/bench_bulk_ops.py $opt
done
# the bar: side by side with Huey, Dramatiq, Procrastinate, RQ, arq, Celery (own venv;
# needs Redis and PostgreSQL; PEERS=1 to run it, it takes 15-30 minutes)
[ -n "$PEERS" ] && $PY bench/peers/run.py
# processed/s with 1,000,000 rows vs 10,000 (heavy: DECAY=1 to run it, one store after
# the other; on PostgreSQL give it a database of its own, PG_DECAY_URL)
if [ -n "$DECAY" ]; then
  $PY bench/decay.py
  [ -n "$PG_DECAY_URL" ] && $PY bench/decay.py --url "$PG_DECAY_URL"
fi
exit 0
