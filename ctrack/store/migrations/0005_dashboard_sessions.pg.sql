-- ctrack schema, version 5, on PostgreSQL: dashboard sessions (see 0005_dashboard_sessions.sql).
CREATE TABLE dashboard_sessions (
    token_hash  text PRIMARY KEY,
    user_name   text NOT NULL REFERENCES dashboard_users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    created_at  double precision NOT NULL,
    expires_at  double precision NOT NULL
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions(user_name);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions(expires_at);
