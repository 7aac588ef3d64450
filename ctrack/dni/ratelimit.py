"""A token bucket per client, so one address cannot drain a DNI pool.

Memory is bounded: beyond max_clients the least recently seen client is forgotten (it comes
back with a full bucket, which errs on the side of serving visitors).
"""

from __future__ import annotations

from collections import OrderedDict


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, max_clients: int = 100_000):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self.refused_total = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, client: str, now: float) -> bool:
        """Take one token for `client`; False when it has none left."""
        if not self.enabled:
            return True
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if not allowed:
            self.refused_total += 1
        return allowed

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` has a token again."""
        tokens, _ = self._buckets.get(client, (self.burst, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999)) if self.enabled else 0
