-- Cleanup policies: how long finished jobs of a type are kept (app.include's cleanup),
-- applied to every finished job of that type by the retention purge.
CREATE TABLE conveyor_cleanup (
    job text PRIMARY KEY,
    purge_after double precision NOT NULL,
    updated_at double precision NOT NULL
);
