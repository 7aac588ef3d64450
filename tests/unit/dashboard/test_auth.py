"""The pure login rules: lockout after repeated wrong passwords, per user and per address;
session tokens kept only as digests."""

from __future__ import annotations

from ctrack.dashboard.auth import FORGET_SECONDS, LockoutRule, LoginThrottle, address_key, session_digest

RULE = LockoutRule(failures=5, lockout=30, max_lockout=900)


def test_lockout_doubles_after_the_free_failures_up_to_the_maximum():
    assert [RULE.lockout_after(n) for n in range(12)] == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert RULE.lockout_after(10**6) == 900  # no overflow however long the siege


def fail(throttle: LoginThrottle, user: str, address: str, now: float) -> float:
    """One wrong password: the wait it met (0.0 = it was let through and judged wrong)."""
    return throttle.attempt(user, address, now)


def test_a_user_is_locked_out_after_five_wrong_passwords_from_anywhere():
    t = LoginThrottle(RULE, LockoutRule(20, 30, 900))
    assert [fail(t, "alice", f"198.51.100.{i}", 100.0) for i in range(5)] == [0.0] * 5
    assert t.attempt("alice", "203.0.113.1", 100.0) == 30.0  # refused unchecked, not counted
    assert t.attempt("alice", "203.0.113.1", 129.5) == 0.5
    assert t.attempt("bob", "203.0.113.1", 100.0) == 0.0  # another user is not locked
    assert fail(t, "alice", "203.0.113.1", 130.0) == 0.0  # the sixth wrong password…
    assert t.attempt("alice", "203.0.113.1", 130.0) == 60.0  # …doubles the lockout
    assert [(s.kind, s.failures, s.locked_for) for s in t.states("alice", "203.0.113.1", 130.0)] == [
        ("user", 6, 60.0),
        ("address", 2, 0.0),
    ]
    assert t.refused_total == 3


def test_an_attempt_counts_as_wrong_until_it_succeeds():
    """Parallel guesses: the sixth is refused although none of the five was judged yet."""
    t = LoginThrottle(RULE, LockoutRule(20, 30, 900))
    assert [t.attempt("alice", "198.51.100.1", 5.0) for _ in range(6)] == [0.0] * 5 + [30.0]
    t.succeeded("alice", "198.51.100.1")  # one of them had the right password
    assert t.attempt("alice", "198.51.100.1", 5.0) == 0.0
    assert t.states("alice", "198.51.100.1", 5.0)[0].failures == 1


def test_the_right_password_clears_the_user_but_not_the_addresss_other_guesses():
    t = LoginThrottle(RULE, LockoutRule(3, 30, 900))
    for name in ("bob", "carol"):
        fail(t, name, "198.51.100.7", 0.0)
    t.attempt("mallory", "198.51.100.7", 0.0)
    t.succeeded("mallory", "198.51.100.7")  # the guesser's own account
    assert t.states("mallory", "198.51.100.7", 0.0)[1].failures == 2
    fail(t, "dave", "198.51.100.7", 0.0)
    assert t.attempt("alice", "198.51.100.7", 1.0) == 29.0
    assert t.attempt("alice", "198.51.100.8", 1.0) == 0.0


def test_failures_are_forgotten_an_hour_after_the_lockout_ends():
    t = LoginThrottle(RULE, LockoutRule(20, 30, 900))
    for _ in range(4):
        fail(t, "alice", "198.51.100.1", 0.0)
    assert t.states("alice", "x", FORGET_SECONDS - 1)[0].failures == 4
    assert t.states("alice", "x", FORGET_SECONDS)[0].failures == 0


def test_memory_is_bounded():
    """Beyond max_keys the least recently seen key goes (here user0 and its address)."""
    t = LoginThrottle(RULE, RULE, max_keys=10)
    for i in range(6):
        fail(t, f"user{i}", f"198.51.100.{i}", 0.0)
    assert [s.failures for s in t.states("user0", "198.51.100.0", 0.0)] == [0, 0]
    assert [s.failures for s in t.states("user5", "198.51.100.5", 0.0)] == [1, 1]


def test_long_user_names_share_one_key_that_no_real_user_has():
    t = LoginThrottle(LockoutRule(2, 30, 900), LockoutRule(100, 30, 900))
    fail(t, "a" * 70 + "1", "198.51.100.1", 0.0)
    fail(t, "a" * 70 + "2", "198.51.100.2", 0.0)
    assert t.attempt("a" * 65, "198.51.100.3", 0.0) == 30.0
    assert t.attempt("a" * 64, "198.51.100.3", 0.0) == 0.0


def test_address_keys():
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key("") == "" and address_key("x" * 100) == "x" * 64


def test_sessions_are_kept_as_digests():
    assert session_digest("token") == "3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0"
