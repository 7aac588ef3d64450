-- Call transcripts: a durable job per recorded call, its speaker-labelled segments, an FTS5 index.
-- A recorded call gets its job from these triggers, whichever path saved it (AMI, ESL, CDR).
CREATE TABLE transcript_jobs (
    call_id       INTEGER PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    reason        TEXT,                                 -- why failed or skipped, one line
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  REAL NOT NULL DEFAULT 0,
    language      TEXT,
    duration      REAL,
    seconds_taken REAL,
    updated_at    REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
CREATE INDEX transcript_jobs_due ON transcript_jobs(status, next_attempt);

CREATE TABLE transcript_segments (
    call_id  INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    speaker  TEXT NOT NULL CHECK (speaker IN ('caller', 'business', 'mixed')),
    start    REAL NOT NULL,
    "end"    REAL NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

-- rowid = calls.id
CREATE VIRTUAL TABLE transcript_search USING fts5(text, tokenize = 'unicode61');

CREATE TRIGGER transcript_job_on_insert AFTER INSERT ON calls
WHEN NEW.recording IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO transcript_jobs(call_id) VALUES (NEW.id);
END;

CREATE TRIGGER transcript_job_on_recording AFTER UPDATE OF recording ON calls
WHEN NEW.recording IS NOT NULL AND OLD.recording IS NULL
BEGIN
    INSERT OR IGNORE INTO transcript_jobs(call_id) VALUES (NEW.id);
END;
