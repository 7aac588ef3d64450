-- ctrack schema, version 11: the spam block list, why a call is spam, alert deliveries.
--
-- blocked_callers: caller numbers (E.164) and number prefixes ('+1900') the route treats as
-- spam ([spam] treatment). The route's in-memory catalog carries the list, so a change bumps
-- catalog_version like a change to sources, pools or numbers.
CREATE TABLE blocked_callers (
    id        INTEGER PRIMARY KEY,
    pattern   TEXT NOT NULL UNIQUE,                    -- '+15035550830' or, for a prefix, '+1900'
    kind      TEXT NOT NULL CHECK (kind IN ('number', 'prefix')),
    note      TEXT,
    added_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TRIGGER blocked_insert_catalog_version AFTER INSERT ON blocked_callers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER blocked_update_catalog_version AFTER UPDATE ON blocked_callers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER blocked_delete_catalog_version AFTER DELETE ON blocked_callers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

-- Why ctrack set lead_status = 'spam': 'blocked' (block list), 'repeat' (the same caller
-- too often with almost no talk) or 'anonymous' (no caller id, hung up at once). NULL when
-- a person marked it, or it is not spam.
ALTER TABLE calls ADD COLUMN spam_reason TEXT CHECK (spam_reason IN ('blocked', 'repeat', 'anonymous'));

-- Alerts go through the outbox: an event row per alert (kind alert_missed / alert_lead with
-- the call, alert_summary with the local day as target), fanned out by the sender into
-- 'email' and 'chat' deliveries. The rate limit counts recent deliveries by kind.
CREATE INDEX outbox_kind_created ON outbox(kind, created_at);
