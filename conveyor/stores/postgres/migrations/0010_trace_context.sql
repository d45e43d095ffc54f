-- OpenTelemetry: the trace context (W3C traceparent, as JSON) of the trigger that stored
-- a job, so each attempt's span is a child of the trigger's span.
ALTER TABLE conveyor_jobs ADD COLUMN trace_context text;
