-- ctrack schema, version 15, on PostgreSQL: dispositions behind an IVR, a queue or voicemail
-- (see 0015_dispositions.sql for the why). PostgreSQL changes the CHECK by name.
ALTER TABLE calls ADD COLUMN queue_wait_seconds integer;
ALTER TABLE calls ADD COLUMN voicemail_seconds integer;
ALTER TABLE calls ADD COLUMN answered_by text;
ALTER TABLE calls DROP CONSTRAINT calls_disposition_check;
ALTER TABLE calls ADD CONSTRAINT calls_disposition_check
    CHECK (disposition IN ('answered', 'missed', 'abandoned', 'busy', 'failed', 'voicemail', 'pbx_answered'));
