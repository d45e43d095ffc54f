"""conveyor: durable background jobs on SQLite or PostgreSQL."""
