-- ctrack schema, version 15: dispositions behind an IVR, a queue or voicemail.
--
-- disposition gains 'pbx_answered' (an IVR or announcement answered, the caller left before
-- reaching a person). SQLite cannot ALTER a CHECK constraint, and rebuilding calls would need
-- its full column list, which other migrations extend: so the CHECK is loosened in place with
-- the writable_schema procedure that https://www.sqlite.org/lang_altertable.html gives for
-- changes that leave the stored rows valid (every stored value still passes the new CHECK).
-- The ADD COLUMNs come first, while the connection's parsed schema matches the stored text
-- (ADD COLUMN edits that text at an offset it parsed); the CREATE/DROP after the edit bumps
-- the schema cookie so that other connections reparse, and RESET makes this one reparse too.
ALTER TABLE calls ADD COLUMN queue_wait_seconds INTEGER;  -- seconds in Queue() until a person answered or the caller left
ALTER TABLE calls ADD COLUMN voicemail_seconds INTEGER;   -- seconds in voicemail until the message was saved; NULL: none left
ALTER TABLE calls ADD COLUMN answered_by TEXT;            -- the endpoint that talked last (PJSIP/201), answered calls only
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql,
    'CHECK (disposition IN (''answered'', ''missed'', ''abandoned'', ''busy'', ''failed'', ''voicemail''))',
    'CHECK (disposition IN (''answered'', ''missed'', ''abandoned'', ''busy'', ''failed'', ''voicemail'', ''pbx_answered''))')
WHERE type = 'table' AND name = 'calls';
CREATE TABLE ctrack_schema_cookie_bump (x);
DROP TABLE ctrack_schema_cookie_bump;
PRAGMA writable_schema = RESET;
