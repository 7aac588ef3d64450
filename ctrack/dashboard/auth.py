"""Dashboard credentials and sessions, with hashlib and hmac only.

Passwords are stored as scrypt hashes. A session cookie is 'user.expiry.signature', the
signature an HMAC over the user, the expiry and a fingerprint of the user's password hash:
changing a password (or removing the user) ends that user's sessions everywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ctrack.errors import CtrackError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


class AuthError(CtrackError, ValueError):
    """Credentials that cannot be used; str() is the one-line reason."""


def check_username(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._@-" for ch in name):
        raise AuthError(f"user name {name!r}: use 1-64 letters, digits and . _ @ -")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AuthError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode()[: MAX_PASSWORD * 4],
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _session_mac(key: str, user: str, expires: int, password_hash: str) -> str:
    fingerprint = hashlib.sha256(password_hash.encode()).hexdigest()
    message = f"{user}\n{expires}\n{fingerprint}".encode()
    return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest())


def make_session(key: str, user: str, password_hash: str, expires: int) -> str:
    return f"{_b64(user.encode())}.{expires}.{_session_mac(key, user, expires, password_hash)}"


def session_user(token: str) -> tuple[str, int] | None:
    """(user, expiry) named by a cookie, not yet verified: look up the user's hash, then
    call `session_valid`."""
    try:
        user_b64, expires, _ = token.split(".")
        return _unb64(user_b64).decode(), int(expires)
    except (ValueError, UnicodeDecodeError):
        return None


def session_valid(key: str, token: str, password_hash: str, now: float) -> bool:
    named = session_user(token)
    if named is None:
        return False
    user, expires = named
    if expires <= now:
        return False
    return hmac.compare_digest(token.rsplit(".", 1)[1], _session_mac(key, user, expires, password_hash))


def csrf_token(key: str, session: str) -> str:
    """The token a logged-in form carries: bound to the session, unknowable to other sites."""
    return _b64(hmac.new(key.encode(), b"csrf\n" + session.encode(), hashlib.sha256).digest())
