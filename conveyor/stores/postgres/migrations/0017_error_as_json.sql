-- The error column is text holding JSON, but a row written by hand or by other software
-- may hold plain text: where it is read as JSON (app.retry keeping the finished attempt
-- in the history) such text becomes a JSON string instead of failing the statement.
CREATE OR REPLACE FUNCTION conveyor_as_jsonb(value text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN to_jsonb(value);
END;
$$;
