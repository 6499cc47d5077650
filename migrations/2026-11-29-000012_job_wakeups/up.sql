-- When the executor renamed a restart's new vassal into place: a restart's latency runs from
-- created_at to this moment.
ALTER TABLE jobs ADD COLUMN vassal_written_at timestamptz;

-- Workers LISTEN on `jobs_ready` and claim as soon as a job they can run appears, keeping
-- their poll only as a fallback. The payload is the job's server, so an agent wakes only for
-- its own servers' jobs; identical payloads in one transaction arrive once.
CREATE FUNCTION jobs_notify_ready() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobs_ready', NEW.server_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_ready_on_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_notify_ready();

-- a job put back in the queue (staff's retry) is runnable again
CREATE TRIGGER jobs_ready_on_requeue AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.state = 'queued' AND OLD.state IS DISTINCT FROM 'queued')
    EXECUTE FUNCTION jobs_notify_ready();
