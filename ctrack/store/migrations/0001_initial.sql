-- ctrack schema, version 1: the whole domain model.
CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    campaign    TEXT,
    created_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TABLE pools (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    site           TEXT NOT NULL,
    region         TEXT,
    lease_seconds  INTEGER NOT NULL DEFAULT 1800 CHECK (lease_seconds > 0),
    fallback       TEXT,
    overflow       TEXT NOT NULL DEFAULT 'fallback' CHECK (overflow IN ('fallback', 'share')),
    created_at     REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TABLE numbers (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,               -- E.164
    kind        TEXT NOT NULL CHECK (kind IN ('static', 'pool')),
    source_id   INTEGER REFERENCES sources(id),
    pool_id     INTEGER REFERENCES pools(id),
    forward     TEXT,
    record      INTEGER NOT NULL DEFAULT 0,
    whisper     TEXT,
    vanity      TEXT,
    region      TEXT,
    state       TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
    created_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    retired_at  REAL,
    CHECK ((kind = 'static' AND source_id IS NOT NULL AND pool_id IS NULL)
        OR (kind = 'pool' AND pool_id IS NOT NULL AND source_id IS NULL))
);
CREATE INDEX numbers_source ON numbers(source_id);
CREATE INDEX numbers_pool ON numbers(pool_id, state);

CREATE TABLE visits (
    id              TEXT PRIMARY KEY,
    site            TEXT NOT NULL,
    first_seen      REAL NOT NULL,
    last_seen       REAL NOT NULL,
    landing_page    TEXT,
    referrer        TEXT,
    utm_source      TEXT,
    utm_medium      TEXT,
    utm_campaign    TEXT,
    utm_term        TEXT,
    utm_content     TEXT,
    gclid           TEXT,
    gbraid          TEXT,
    wbraid          TEXT,
    msclkid         TEXT,
    fbclid          TEXT,
    ga_client_id    TEXT,
    source          TEXT,
    channel         TEXT,
    number          TEXT,                              -- leased number, E.164
    lease_expires_at REAL
);
CREATE INDEX visits_number ON visits(number, lease_expires_at);
CREATE INDEX visits_last_seen ON visits(last_seen);

CREATE TABLE calls (
    id              INTEGER PRIMARY KEY,
    uniqueid        TEXT NOT NULL UNIQUE,              -- inbound channel's uniqueid / FreeSWITCH UUID
    pbx             TEXT NOT NULL DEFAULT 'asterisk',
    tracking_number TEXT,
    caller_number   TEXT,
    caller_name     TEXT,
    source          TEXT,
    channel         TEXT,
    started_at      REAL NOT NULL,
    answered_at     REAL,
    ended_at        REAL,
    ring_seconds    INTEGER,
    talk_seconds    INTEGER NOT NULL DEFAULT 0,
    disposition     TEXT CHECK (disposition IN ('answered', 'missed', 'abandoned', 'busy', 'failed', 'voicemail')),
    hangup_cause    INTEGER,
    first_time      INTEGER,
    qualified       INTEGER NOT NULL DEFAULT 0,
    recording       TEXT,
    visit_id        TEXT REFERENCES visits(id),
    visit_ambiguous INTEGER NOT NULL DEFAULT 0,
    keyword         TEXT,
    landing_page    TEXT,
    gclid           TEXT,
    ga_client_id    TEXT,
    transcript      TEXT,
    tags            TEXT,
    value           REAL,
    origin          TEXT NOT NULL DEFAULT 'ami' CHECK (origin IN ('ami', 'cdr', 'esl')),
    created_at      REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
CREATE INDEX calls_started ON calls(started_at);
CREATE INDEX calls_source_started ON calls(source, started_at);
CREATE INDEX calls_caller_started ON calls(caller_number, started_at);
CREATE INDEX calls_tracking_started ON calls(tracking_number, started_at);

CREATE TABLE spend (
    id        INTEGER PRIMARY KEY,
    day       TEXT NOT NULL,                            -- yyyy-mm-dd
    source_id INTEGER NOT NULL REFERENCES sources(id),
    amount    REAL NOT NULL CHECK (amount >= 0),
    UNIQUE (day, source_id)
);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,                        -- ga4, webhook, google_ads
    call_id       INTEGER REFERENCES calls(id),
    target        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  REAL NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       REAL,
    created_at    REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    UNIQUE (kind, call_id, target)
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt);
