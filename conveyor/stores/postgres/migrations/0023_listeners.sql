-- An insert notified idle workers always: pg_notify takes PostgreSQL's notify lock from
-- the commit's start to its end (the WAL flush included), so every inserting commit of
-- the server waited for the one before it, even with no worker listening. Now a worker
-- registers its LISTEN connection here while it waits for work (by backend pid), and an
-- insert notifies only while one is registered.
--
-- No wake-up is lost: an inserting transaction holds the marker lock below (shared, to
-- its end) from before it looks here. A worker, once its registration committed, lists
-- the holders (conveyor_inserting) and looks for work again after each has ended: an
-- insert that looked before the registration is then committed (or rolled back). Any
-- later look sees the registration. Nothing waits on the marker (no one takes it
-- exclusively). Under another isolation level a transaction's snapshot may predate the
-- registration: such inserts always notify.
CREATE TABLE conveyor_listeners (
    pid integer PRIMARY KEY,
    since double precision NOT NULL
);

CREATE OR REPLACE FUNCTION conveyor_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('transaction_isolation') = 'read committed' THEN
        PERFORM pg_advisory_xact_lock_shared(
            hashtextextended('conveyor-insert:' || TG_TABLE_SCHEMA, 0));
        IF NOT EXISTS (SELECT FROM conveyor_listeners) THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

-- Registrations of sessions that ended (a worker killed) only cost notifications: each
-- registration and each maintenance pass removes them.
CREATE FUNCTION conveyor_forget_listeners() RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    DELETE FROM conveyor_listeners l
    WHERE NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = l.pid);
$$;

CREATE FUNCTION conveyor_listen() RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    SELECT conveyor_forget_listeners();
    INSERT INTO conveyor_listeners (pid, since)
    VALUES (pg_backend_pid(), extract(epoch from now())) ON CONFLICT (pid) DO NOTHING;
$$;

-- The transactions inserting jobs now (virtual transaction ids holding the marker).
CREATE FUNCTION conveyor_inserting() RETURNS text[]
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT coalesce(array_agg(l.virtualtransaction), '{}')
    FROM (SELECT hashtextextended('conveyor-insert:' || current_schema(), 0) AS k) AS m,
        pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = ((m.k >> 32) & 4294967295)::oid AND l.objid = (m.k & 4294967295)::oid;
$$;
