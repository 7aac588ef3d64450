"""Dashboard credentials, sessions and login throttling, with hashlib and hmac only.

Passwords are stored as scrypt hashes. A session cookie is a random token; the database
keeps only its SHA-256, so logging out (or a new password, or removing the user) ends the
session on the server, and a copy of the database holds no usable cookie.

Guessing is throttled per user name and per client address (`LoginThrottle`): after a
number of wrong passwords in a row the key is locked out, the lockout doubling with each
further wrong password up to a maximum; a locked key's attempts are refused unchecked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict
from dataclasses import dataclass

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


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def session_digest(token: str) -> str:
    """What the database keeps of a session cookie (256 random bits need no salt or scrypt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(key: str, session: str) -> str:
    """The token a logged-in form carries: bound to the session, unknowable to other sites."""
    return _b64(hmac.new(key.encode(), b"csrf\n" + session.encode(), hashlib.sha256).digest())


# -- login throttling ---------------------------------------------------------------------

FORGET_SECONDS = 3600.0  # a key's wrong passwords are forgotten an hour after its lockout ends
USER_KEY_MAX = 65  # longer than any user name check_username allows, so never a real user's key


@dataclass(frozen=True, slots=True)
class LockoutRule:
    """After `failures` wrong passwords in a row a key is locked for `lockout` seconds, twice
    as long after each further one, never longer than `max_lockout`."""

    failures: int
    lockout: float
    max_lockout: float

    def lockout_after(self, failures: int) -> float:
        if failures < self.failures:
            return 0.0
        return min(self.max_lockout, self.lockout * 2.0 ** min(failures - self.failures, 40))


def address_key(address: str) -> str:
    """The client an address stands for: an IPv4 address, or the /64 of an IPv6 one (what
    one subscriber gets; a guesser must not get 2**64 fresh addresses)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class KeyState:
    kind: str  # "user" or "address"
    key: str
    failures: int
    locked_for: float  # seconds left, 0.0 = not locked


class LoginThrottle:
    """Wrong passwords per user name and per client address, in memory.

    An attempt counts as wrong from the moment it is let through until `succeeded` says
    otherwise, so parallel guesses cannot all slip in before the first is judged. The right
    password clears the user's count and takes this attempt off the address's (an address's
    other wrong guesses stay: a guesser's own account must not reset them). Memory is
    bounded: beyond max_keys the least recently seen key is forgotten.
    """

    def __init__(self, user: LockoutRule, address: LockoutRule, max_keys: int = 100_000):
        self.rules = {"user": user, "address": address}
        self.max_keys = max_keys
        self._seen: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()  # -> (failures, last at)
        self.wrong_total = 0
        self.refused_total = 0

    def _keys(self, user: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", user[:USER_KEY_MAX]), ("address", address_key(address))

    def _state(self, key: tuple[str, str], now: float) -> tuple[int, float]:
        """(failures, seconds still locked) of a key; a long-quiet key is forgotten."""
        failures, at = self._seen.get(key, (0, now))
        lockout = self.rules[key[0]].lockout_after(failures)
        if now >= at + lockout + FORGET_SECONDS:
            self._seen.pop(key, None)
            return 0, 0.0
        return failures, max(0.0, at + lockout - now)

    def attempt(self, user: str, address: str, now: float) -> float:
        """Seconds until this user and address may try again; 0.0 lets the attempt through
        and counts it as wrong until `succeeded`."""
        keys = self._keys(user, address)
        states = [self._state(key, now) for key in keys]
        wait = max(locked for _, locked in states)
        if wait > 0:
            self.refused_total += 1
            return wait
        for key, (failures, _) in zip(keys, states, strict=True):
            self._seen.pop(key, None)
            self._seen[key] = (failures + 1, now)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return 0.0

    def succeeded(self, user: str, address: str) -> None:
        user_key, address_key_ = self._keys(user, address)
        self._seen.pop(user_key, None)
        failures, at = self._seen.pop(address_key_, (1, 0.0))
        if failures > 1:
            self._seen[address_key_] = (failures - 1, at)

    def wrong(self, user: str, address: str, now: float) -> list[KeyState]:
        """A let-through attempt was wrong (it stays counted): the user's and the address's
        counts, for the log line."""
        self.wrong_total += 1
        return self.states(user, address, now)

    def states(self, user: str, address: str, now: float) -> list[KeyState]:
        return [KeyState(kind, key, *self._state((kind, key), now)) for kind, key in self._keys(user, address)]
