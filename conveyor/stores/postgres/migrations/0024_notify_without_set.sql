-- The insert trigger's function named its schema with SET search_path FROM CURRENT: every
-- call then set and restored search_path (the schema looked up again both times), ~50 µs
-- of the server's ~400 µs of CPU for a single job's transaction on a busy 2-core
-- machine (each INSERT statement calls it once). Now the one table it reads is named
-- with its schema, written in when the function is made, and the functions it calls with
-- pg_catalog's: same behaviour, no SET, whatever the inserting session's search_path.
DO $migration$
BEGIN
    EXECUTE format($function$
CREATE OR REPLACE FUNCTION conveyor_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtextextended('conveyor-insert:' || TG_TABLE_SCHEMA, 0));
        IF NOT EXISTS (SELECT FROM %I.conveyor_listeners) THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_catalog.pg_notify('conveyor_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$
$function$, current_schema());
END
$migration$;
