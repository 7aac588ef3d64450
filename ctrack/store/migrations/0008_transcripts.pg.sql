-- ctrack schema, version 8, on PostgreSQL: transcripts (see 0008_transcripts.sql). FTS5 becomes
-- PostgreSQL full-text search: transcript_search keeps FTS5's shape (rowid = calls.id, text)
-- with a generated tsvector; `transcript_search MATCH ?` reads as document @@ fts5_query(?)
-- (ctrack/store/dialect.py).
CREATE TABLE transcript_jobs (
    call_id       bigint PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    reason        text,
    attempts      bigint NOT NULL DEFAULT 0,
    next_attempt  double precision NOT NULL DEFAULT 0,
    language      text,
    duration      double precision,
    seconds_taken double precision,
    updated_at    double precision NOT NULL DEFAULT unix_now()
);
CREATE INDEX transcript_jobs_due ON transcript_jobs(status, next_attempt);

CREATE TABLE transcript_segments (
    call_id  bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    speaker  text NOT NULL CHECK (speaker IN ('caller', 'business', 'mixed')),
    start    double precision NOT NULL,
    "end"    double precision NOT NULL,
    text     text NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE transcript_search (
    rowid     bigint PRIMARY KEY,
    text      text NOT NULL,
    document  tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX transcript_search_document ON transcript_search USING gin (document);

-- match_query's FTS5 text ("word" "word": every word) as a tsquery of the same words.
CREATE FUNCTION fts5_query(q text) RETURNS tsquery LANGUAGE sql IMMUTABLE AS
$$ SELECT plainto_tsquery('simple', replace(q, '"', ' ')) $$;

CREATE FUNCTION transcript_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transcript_jobs(call_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER transcript_job_on_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.recording IS NOT NULL) EXECUTE FUNCTION transcript_job();
CREATE TRIGGER transcript_job_on_recording AFTER UPDATE OF recording ON calls
    FOR EACH ROW WHEN (NEW.recording IS NOT NULL AND OLD.recording IS NULL) EXECUTE FUNCTION transcript_job();
