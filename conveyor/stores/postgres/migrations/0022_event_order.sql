-- Events sent at one instant (a fake clock standing still, or a burst within the clock's
-- resolution) listed and were delivered in an arbitrary order: ties of sent_at (and of
-- deliver_at) were broken by the event's id, often a random uuid. seq numbers events in
-- the order they were stored (SQLite uses its rowid), and breaks those ties: listed
-- newest first by it, delivered in the order sent.
-- A nullable column with a default is a change of the catalog alone: the table is not
-- rewritten (an identity column would be, under an exclusive lock, with every index).
-- Events stored before it keep seq NULL and sort as sent before the later ones
-- (coalesce(seq, 0): EventSQL.sequence). The listings' indexes are kept: they give the
-- order of sent_at, and the few ties are sorted on seq (an incremental sort).
CREATE SEQUENCE conveyor_events_seq;
ALTER TABLE conveyor_events ADD COLUMN seq bigint;
ALTER TABLE conveyor_events ALTER COLUMN seq SET DEFAULT nextval('conveyor_events_seq');
ALTER SEQUENCE conveyor_events_seq OWNED BY conveyor_events.seq;
