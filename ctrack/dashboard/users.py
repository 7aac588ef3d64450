"""Dashboard users, their sessions and the CSRF signing key, kept in the database.

The CLI writes users; the daemon reads them per request, so a password set with the CLI
takes effect at once and a new password or a removed user ends that user's sessions without
a restart. Sessions are written by the daemon's dashboard: `start_session` and
`end_session` are writer jobs (plain sqlite3, the caller holds the transaction).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ctrack.catalog.store import transaction
from ctrack.dashboard.auth import AuthError, new_secret

SESSION_KEY = "dashboard_session_key"


def set_password(conn: sqlite3.Connection, name: str, password_hash: str) -> bool:
    """Create the user or change their password; True when the user is new. Makes the
    session key on first use."""
    with transaction(conn):
        exists = conn.execute("SELECT 1 FROM dashboard_users WHERE name = ?", (name,)).fetchone() is not None
        if exists:
            conn.execute(
                "UPDATE dashboard_users SET password_hash = ?, "
                "changed_at = (julianday('now') - 2440587.5) * 86400.0 WHERE name = ?",
                (password_hash, name),
            )
            conn.execute("DELETE FROM dashboard_sessions WHERE user_name = ?", (name,))
        else:
            conn.execute("INSERT INTO dashboard_users(name, password_hash) VALUES (?, ?)", (name, password_hash))
        conn.execute(
            "INSERT INTO app_secrets(name, value) SELECT ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM app_secrets WHERE name = ?)",
            (SESSION_KEY, new_secret(), SESSION_KEY),
        )
    return not exists


def remove_user(conn: sqlite3.Connection, name: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM dashboard_sessions WHERE user_name = ?", (name,))
        if conn.execute("DELETE FROM dashboard_users WHERE name = ?", (name,)).rowcount == 0:
            raise AuthError(f"no dashboard user {name!r} (see `ctrack dashboard users`)")


def list_users(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT name, datetime(created_at, 'unixepoch') AS created, datetime(changed_at, 'unixepoch') AS "
            "password_changed FROM dashboard_users ORDER BY name"
        )
    ]


def password_hash(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM dashboard_users WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def session_key(conn: sqlite3.Connection) -> str | None:
    """The key logged-in forms' CSRF tokens are signed with. None until the first
    `ctrack dashboard passwd`: then nobody can log in anyway."""
    row = conn.execute("SELECT value FROM app_secrets WHERE name = ?", (SESSION_KEY,)).fetchone()
    return None if row is None else row[0]


def start_session(
    conn: sqlite3.Connection, name: str, checked_hash: str, token_hash: str, now: float, expires: float
) -> bool:
    """Record a login (and drop expired sessions). False when the user's password changed or
    the user went away since `checked_hash` was verified: then there is no session."""
    conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
    return (
        conn.execute(
            "INSERT INTO dashboard_sessions(token_hash, user_name, created_at, expires_at) "
            "SELECT ?, name, ?, ? FROM dashboard_users WHERE name = ? AND password_hash = ?",
            (token_hash, now, expires, name, checked_hash),
        ).rowcount
        == 1
    )


def end_session(conn: sqlite3.Connection, token_hash: str) -> None:
    conn.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash,))


def session_user(conn: sqlite3.Connection, token_hash: str, now: float) -> str | None:
    """The user a live session belongs to, or None (unknown, logged out or expired)."""
    row = conn.execute(
        "SELECT user_name FROM dashboard_sessions WHERE token_hash = ? AND expires_at > ?", (token_hash, now)
    ).fetchone()
    return None if row is None else row[0]
