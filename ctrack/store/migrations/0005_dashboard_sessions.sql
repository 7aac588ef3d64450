-- ctrack schema, version 5: dashboard sessions kept on the server, so that logging out ends one.
--
-- The session cookie is a random token; this table keeps only its SHA-256, so a copy of the
-- database holds no usable cookie. A new password or a removed user deletes that user's
-- sessions (ctrack/dashboard/users.py; the foreign key cascades a removal as well). Sessions
-- signed before this version end: their users log in once more.

CREATE TABLE dashboard_sessions (
    token_hash  TEXT PRIMARY KEY,                -- sha256 hex of the cookie's token
    user_name   TEXT NOT NULL REFERENCES dashboard_users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX dashboard_sessions_user ON dashboard_sessions(user_name);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions(expires_at);
