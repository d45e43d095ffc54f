-- Events sent at one instant (a fake clock standing still, or a burst within the clock's
-- resolution) listed and were delivered in an arbitrary order: ties of sent_at (and of
-- deliver_at) were broken by the event's id, often a random uuid. seq numbers events in
-- the order they were stored (SQLite uses its rowid), and breaks those ties: listed
-- newest first by it, delivered in the order sent. The indexes that serve the listings
-- end with it, so a page is still read in order, not sorted.
ALTER TABLE conveyor_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
DROP INDEX conveyor_events_sent;
DROP INDEX conveyor_events_name;
CREATE INDEX conveyor_events_sent ON conveyor_events (sent_at, seq);
CREATE INDEX conveyor_events_name ON conveyor_events (name, sent_at, seq);
