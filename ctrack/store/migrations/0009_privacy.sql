-- ctrack schema, version 9: privacy. Consent by region logged on each call, a tracking
-- number's own consent rule, the key of the caller hash, and the privacy audit trail.

-- 'always' / 'never' overrides [recording] consent for calls to this number; NULL = the setting.
ALTER TABLE numbers ADD COLUMN consent TEXT CHECK (consent IN ('always', 'never'));

-- Whether the caller was told the call is recorded (1/0; NULL = not known, e.g. CDR backstop), and why.
ALTER TABLE calls ADD COLUMN consent_played INTEGER;
ALTER TABLE calls ADD COLUMN consent_reason TEXT;

-- One random key per database: caller numbers past [retention] caller_data_days become
-- 'h:' || hex(HMAC-SHA256(key, number)), so the same caller still counts as a repeat.
CREATE TABLE privacy_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    key  BLOB NOT NULL
);
INSERT INTO privacy_key(id, key) VALUES (1, randomblob(32));

-- Who did what to personal data: recording playbacks and downloads, exports, erasures, purges.
CREATE TABLE privacy_audit (
    id       INTEGER PRIMARY KEY,
    at       REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    action   TEXT NOT NULL CHECK (action IN ('play', 'download', 'export', 'erase', 'purge')),
    actor    TEXT NOT NULL,                      -- dashboard user, or 'cli' / 'daemon'
    call_id  INTEGER,                            -- the call whose recording was reached
    subject  TEXT,                               -- caller number of an export/erase
    address  TEXT,                               -- client address of a dashboard request
    detail   TEXT                                -- what was exported/erased/purged (JSON)
);
CREATE INDEX privacy_audit_at ON privacy_audit(at);
