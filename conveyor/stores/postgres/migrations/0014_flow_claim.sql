-- The limited claim in one call (one round trip, one statement when not inside a caller's
-- transaction) instead of a statement per step. The steps and their order are those of
-- conveyor/stores/flowlogic.py, which SQLite runs in Python:
--
-- 1. read the rules in force (paused names are skipped, limited jobs and queues indexed);
-- 2. peek at the due jobs in claim order (conveyor_flow_peek), skipping full groups;
-- 3. lock the limit groups of those jobs (advisory transaction locks: sorted and waited
--    for on the first peek, tried on later ones, so claims of unrelated jobs never wait on
--    each other and never deadlock), then read the clock the jobs start at;
-- 4. count what the newly locked groups hold: running attempts (conveyor_flow_running)
--    and starts in the rate window (conveyor_rate);
-- 5. choose, in claim order, the jobs every group of which has room; up to 4 peeks, each
--    skipping the groups found full (a look past full groups is skipped while the caller
--    trusts a recent one that found nothing: `trusted`, the skip set it had);
-- 6. take the chosen jobs still due and add their starts to the rate buckets.
--
-- Concurrent claims peek at the same jobs. When another claim took some of the chosen
-- ones first, the steps run once more for what is still wanted, with peeks that lock
-- what they return, skipping what other claims hold (conveyor_flow_due, as the plain
-- claim's conveyor_due), and group locks only tried (some are held already: waiting now
-- could deadlock); the counts then include this claim's first take.
--
-- Returns the taken rows (the columns of the plain claim), then one status row (id NULL):
-- flow = 'rules' or 'none' (no rule in force), look = 'empty' / 'found' / NULL (what the
-- last look past full groups found), skipped = the skip set of that look.
CREATE FUNCTION conveyor_flow_due(n integer, at double precision, queues text[],
    skip_jobs text[], skip_queues text[], skip_keys text[])
RETURNS TABLE (id bigint, job text, queue text, concurrency_key text)
LANGUAGE sql VOLATILE ROWS 50
SET search_path FROM CURRENT SET enable_sort = off SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
    SELECT j.id, j.job, j.queue, j.concurrency_key FROM conveyor_jobs AS j
    WHERE j.state IN ('pending', 'waiting') AND j.run_at <= at
        AND (queues IS NULL OR j.queue = ANY(queues))
        AND NOT (j.job = ANY(skip_jobs)) AND NOT (j.queue = ANY(skip_queues))
        AND NOT (j.job || chr(31) || coalesce(j.concurrency_key, '') = ANY(skip_keys))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT n
    FOR UPDATE SKIP LOCKED
$$;

-- conveyor_flow_peek, or with lock, conveyor_flow_due.
CREATE FUNCTION conveyor_flow_look(n integer, at double precision, queues text[],
    skip_jobs text[], skip_queues text[], skip_keys text[], lock boolean)
RETURNS TABLE (id bigint, job text, queue text, concurrency_key text)
LANGUAGE plpgsql VOLATILE ROWS 50
SET search_path FROM CURRENT
AS $$
BEGIN
    IF lock THEN
        RETURN QUERY SELECT * FROM conveyor_flow_due(n, at, queues, skip_jobs, skip_queues,
            skip_keys);
    ELSE
        RETURN QUERY SELECT * FROM conveyor_flow_peek(n, at, queues, skip_jobs, skip_queues,
            skip_keys);
    END IF;
END
$$;

CREATE FUNCTION conveyor_flow_claim(want integer, queues text[], prefix text, token bigint,
    lease double precision, worker text, trusted text[])
RETURNS TABLE (id bigint, job text, args text, kwargs text, attempts integer,
    max_attempts integer, retry text, timeout double precision, run_at double precision,
    owner text, key text, queue text, version text, schedule_id text, event_id text,
    priority integer, started_at double precision, concurrency_key text,
    trace_context text, flow text, look text, skipped text[])
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
DECLARE
    sep constant text := chr(31);
    job_rules jsonb;  -- name -> [concurrency, rate_limit, rate_period] of limited jobs
    queue_rules jsonb;  -- the same for queues
    paused_jobs text[];
    paused_queues text[];
    skip_jobs text[];
    skip_queues text[];
    skip_keys text[];  -- job || sep || key of full job groups
    names text[];  -- the groups met so far ...
    room integer[];  -- ... and what each may still start in this claim
    chosen bigint[];
    seen bigint[];
    at double precision;  -- the clock the jobs start at: read once the groups are locked
    size integer;
    deep boolean;  -- this peek skips groups found full
    ids bigint[]; jobs_ text[]; queues_ text[]; keys_ text[];
    peeked integer; fresh text[]; got text[]; g text; ji integer; qi integer;
    before integer; rule jsonb; running jsonb; used jsonb; n_taken integer;
BEGIN
    SELECT coalesce(jsonb_object_agg(f.name, jsonb_build_array(f.concurrency, f.rate_limit,
               f.rate_period)) FILTER (WHERE f.kind = 'job' AND NOT f.paused), '{}'),
           coalesce(jsonb_object_agg(f.name, jsonb_build_array(f.concurrency, f.rate_limit,
               f.rate_period)) FILTER (WHERE f.kind = 'queue' AND NOT f.paused), '{}'),
           coalesce(array_agg(f.name) FILTER (WHERE f.kind = 'job' AND f.paused), '{}'),
           coalesce(array_agg(f.name) FILTER (WHERE f.kind = 'queue' AND f.paused), '{}'),
           CASE WHEN count(*) > 0 THEN 'rules' ELSE 'none' END
    INTO job_rules, queue_rules, paused_jobs, paused_queues, flow
    FROM conveyor_flow AS f
    WHERE f.paused OR f.concurrency IS NOT NULL OR f.rate_limit IS NOT NULL;

    FOR pass IN 1..2 LOOP  -- the second: another claim took some of the chosen jobs
        skip_jobs := paused_jobs; skip_queues := paused_queues; skip_keys := '{}';
        names := '{}'; room := '{}'; chosen := '{}'; seen := '{}';
        size := least(100, want); deep := false; n_taken := 0;
        FOR round_no IN 1..4 LOOP
            IF deep THEN
                skipped := ARRAY(SELECT 'j' || sep || x FROM unnest(skip_jobs) AS x)
                    || ARRAY(SELECT 'q' || sep || x FROM unnest(skip_queues) AS x)
                    || ARRAY(SELECT 'k' || sep || x FROM unnest(skip_keys) AS x);
                -- A recent look, skipping no more than this one would, found nothing.
                EXIT WHEN trusted IS NOT NULL AND trusted <@ skipped;
            END IF;
            SELECT count(*),
                   coalesce(array_agg(p.id ORDER BY p.o) FILTER (WHERE NOT p.old), '{}'),
                   array_agg(p.job ORDER BY p.o) FILTER (WHERE NOT p.old),
                   array_agg(p.queue ORDER BY p.o) FILTER (WHERE NOT p.old),
                   array_agg(p.concurrency_key ORDER BY p.o) FILTER (WHERE NOT p.old)
            INTO peeked, ids, jobs_, queues_, keys_
            FROM (SELECT c.*, c.id IN (SELECT unnest(seen)) AS old
                FROM conveyor_flow_look(size, coalesce(at,
                        nullif(current_setting('conveyor.now', true), '')::float8,
                        extract(epoch from clock_timestamp())::float8),
                    queues, skip_jobs, skip_queues, skip_keys, pass = 2)
                    WITH ORDINALITY AS c(id, job, queue, concurrency_key, o)) AS p;
            seen := seen || ids;
            IF deep THEN
                look := CASE WHEN cardinality(ids) > 0 THEN 'found' ELSE 'empty' END;
            END IF;
            EXIT WHEN cardinality(ids) = 0;

            -- Lock the groups met for the first time (in one order: no deadlock), then count.
            SELECT array_agg(DISTINCT x.g COLLATE "C" ORDER BY x.g COLLATE "C") INTO fresh
            FROM (
                SELECT CASE WHEN job_rules ? u.j
                    THEN 'j' || sep || u.j || sep || coalesce(u.k, '') END
                FROM unnest(jobs_, keys_) AS u(j, k)
                UNION ALL
                SELECT CASE WHEN queue_rules ? u.q THEN 'q' || sep || u.q END
                FROM unnest(queues_) AS u(q)) AS x(g)
            WHERE x.g IS NOT NULL AND NOT x.g = ANY(names);
            IF fresh IS NOT NULL THEN
                got := '{}';
                FOREACH g IN ARRAY fresh LOOP
                    IF round_no = 1 AND pass = 1 THEN  -- later ones never wait: no deadlock
                        PERFORM pg_advisory_xact_lock(hashtextextended(prefix || g, 0));
                        got := got || g;
                    ELSIF pg_try_advisory_xact_lock(hashtextextended(prefix || g, 0)) THEN
                        got := got || g;
                    END IF;
                END LOOP;
                IF at IS NULL THEN
                    at := coalesce(nullif(current_setting('conveyor.now', true), '')::float8,
                        extract(epoch from clock_timestamp())::float8);
                END IF;
                -- What the locked groups hold now: running attempts, starts in the window.
                IF EXISTS (SELECT FROM unnest(got) AS x(g) WHERE (CASE WHEN x.g LIKE 'j%'
                        THEN job_rules ELSE queue_rules END -> split_part(x.g, sep, 2) ->> 0)
                        IS NOT NULL) THEN
                    SELECT jsonb_object_agg(v.g, v.n) INTO running FROM (
                        SELECT y.g, count(*) AS n FROM conveyor_flow_running(
                            ARRAY(SELECT split_part(x, sep, 2) FROM unnest(got) AS x
                                WHERE x LIKE 'j%'),
                            ARRAY(SELECT split_part(x, sep, 2) FROM unnest(got) AS x
                                WHERE x LIKE 'q%')) AS w,
                        LATERAL (VALUES
                            ('j' || sep || w.job || sep || coalesce(w.concurrency_key, '')),
                            ('q' || sep || w.queue)) AS y(g)
                        WHERE y.g = ANY(got) GROUP BY y.g) AS v;
                END IF;
                SELECT jsonb_object_agg(b.grp, b.n) INTO used FROM (
                    SELECT grp, sum(n) AS n FROM conveyor_rate
                    WHERE grp = ANY(got) AND expires_at > at GROUP BY grp) AS b;
                FOREACH g IN ARRAY fresh LOOP  -- locked elsewhere: no room in this claim
                    rule := CASE WHEN g LIKE 'j%' THEN job_rules ELSE queue_rules END
                        -> split_part(g, sep, 2);
                    names := names || g;
                    room := room || CASE WHEN NOT g = ANY(got) THEN 0 ELSE coalesce(least(
                        (rule ->> 0)::integer - coalesce((running ->> g)::integer, 0),
                        (rule ->> 1)::integer - coalesce((used ->> g)::integer, 0)),
                        2147483647) END;
                END LOOP;
            END IF;

            -- Choose, in claim order, the jobs every group of which has room.
            FOR i IN 1..cardinality(ids) LOOP
                ji := NULL; qi := NULL;
                IF job_rules ? jobs_[i] THEN
                    ji := array_position(names, 'j' || sep || jobs_[i] || sep
                        || coalesce(keys_[i], ''));
                END IF;
                IF queue_rules ? queues_[i] THEN
                    qi := array_position(names, 'q' || sep || queues_[i]);
                END IF;
                IF (ji IS NULL OR room[ji] >= 1) AND (qi IS NULL OR room[qi] >= 1) THEN
                    chosen := chosen || ids[i];
                    IF ji IS NOT NULL THEN room[ji] := room[ji] - 1; END IF;
                    IF qi IS NOT NULL THEN room[qi] := room[qi] - 1; END IF;
                    EXIT WHEN cardinality(chosen) = want;
                END IF;
            END LOOP;
            EXIT WHEN cardinality(chosen) = want OR peeked < size;

            -- Skip the groups found full from now on; nothing new to skip (every job looked
            -- at fits): look further down the same order, for as many more as are wanted.
            before := cardinality(skip_queues) + cardinality(skip_keys);
            FOR i IN 1..cardinality(names) LOOP
                CONTINUE WHEN room[i] > 0;
                g := substr(names[i], 3);
                IF names[i] LIKE 'q%' THEN
                    IF NOT g = ANY(skip_queues) THEN skip_queues := skip_queues || g; END IF;
                ELSIF NOT g = ANY(skip_keys) THEN
                    skip_keys := skip_keys || g;
                END IF;
            END LOOP;
            deep := cardinality(skip_queues) + cardinality(skip_keys) > before;
            size := CASE WHEN deep THEN 100
                ELSE cardinality(seen) + want - cardinality(chosen) END;
        END LOOP;

        IF cardinality(chosen) > 0 THEN
            IF at IS NULL THEN
                at := coalesce(nullif(current_setting('conveyor.now', true), '')::float8,
                    extract(epoch from clock_timestamp())::float8);
            END IF;
            -- Rows found by primary key, the state and due time tested on the locked row (a
            -- job peeked at may have run and been rescheduled since; OFFSET 0 keeps
            -- it outside the subquery: else the planner may walk a partial index of the
            -- backlog for a few ids); starts of rate-limited groups added to their buckets
            -- (only rows of groups this claim holds locks on: claims never wait on each
            -- other's rows).
            RETURN QUERY
            WITH taken AS (
                UPDATE conveyor_jobs AS j SET state = 'running', attempts = j.attempts + 1,
                    started_at = at, lease_token = token, lease_expires_at = at + lease,
                    worker_id = worker, dedupe_key = NULL
                FROM (SELECT d.id, d.state, d.run_at FROM conveyor_jobs AS d
                        WHERE d.id = ANY(chosen) OFFSET 0 FOR UPDATE SKIP LOCKED) AS due
                WHERE j.id = due.id AND due.state IN ('pending', 'waiting') AND due.run_at <= at
                RETURNING j.id, j.job, j.args, j.kwargs, j.attempts, j.max_attempts, j.retry,
                    j.timeout, j.run_at, j.owner, j.key, j.queue, j.version, j.schedule_id,
                    j.event_id, j.priority, at AS started_at, j.concurrency_key, j.trace_context
            ), starts AS (
                SELECT s.g, s.period, count(*)::integer AS n
                FROM taken AS t, LATERAL (VALUES
                    ('j' || sep || t.job || sep || coalesce(t.concurrency_key, ''),
                        (job_rules -> t.job ->> 2)::float8),
                    ('q' || sep || t.queue, (queue_rules -> t.queue ->> 2)::float8)
                ) AS s(g, period)
                WHERE s.period IS NOT NULL
                GROUP BY s.g, s.period
            ), gone AS (
                DELETE FROM conveyor_rate AS b
                WHERE b.grp IN (SELECT s.g FROM starts AS s) AND b.expires_at <= at
            ), added AS (
                INSERT INTO conveyor_rate AS b (grp, bucket, n, expires_at)
                SELECT s.g, floor(at / (s.period / 10)) * (s.period / 10), s.n, at + s.period
                FROM starts AS s ORDER BY s.g
                ON CONFLICT (grp, bucket) DO UPDATE SET n = b.n + excluded.n,
                    expires_at = greatest(b.expires_at, excluded.expires_at)
            )
            SELECT t.*, NULL::text, NULL::text, NULL::text[] FROM taken AS t;
            GET DIAGNOSTICS n_taken = ROW_COUNT;
            want := want - n_taken;
        END IF;
        EXIT WHEN want = 0 OR n_taken = cardinality(chosen);
    END LOOP;
    RETURN NEXT;  -- the status row: flow, look and skipped set, every other column NULL
END
$$;
