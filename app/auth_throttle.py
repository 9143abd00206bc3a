"""A per-client limit on failed authentications.

A client (an address, as the server sees it: behind a proxy, run `loyalty serve` with the
proxy's headers trusted) whose credentials fail `limit` times within `window` seconds is
refused, before its credentials are looked at, until that window ends. Only failures
count: a client whose credentials are good is never slowed down however busy it is.

Memory is bounded: at most `max_clients` addresses are remembered, the least recently
failing forgotten first. Each worker keeps its own count, so with N workers a client may
fail up to N times `limit` per window before every worker refuses it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_CLIENTS = 10_000


@dataclass
class _Failures:
    window_start: float
    count: int


class FailedAuthThrottle:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window = window_seconds
        self._max_clients = max_clients
        self._clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    def retry_after(self, client: str | None) -> int | None:
        """Whole seconds until this client may present credentials again; None when it may now."""
        if not self.enabled or client is None:
            return None
        failures = self._clients.get(client)
        if failures is None or failures.count < self.limit:
            return None
        left = failures.window_start + self.window - self._clock()
        if left <= 0:
            del self._clients[client]
            return None
        return max(1, math.ceil(left))

    def failed(self, client: str | None) -> None:
        if not self.enabled or client is None:
            return
        now = self._clock()
        failures = self._clients.get(client)
        if failures is None or now - failures.window_start >= self.window:
            failures = self._clients[client] = _Failures(now, 0)
        failures.count += 1
        self._clients.move_to_end(client)
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)

    def __len__(self) -> int:
        return len(self._clients)
