"""A bounded client for the front tests: hammers a URL from threads and tallies what came back.

Each request opens a new connection (what the front's switch must never refuse or reset) unless
`keep_alive`; every answer is classified by status, and a connection error counts as a failure.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    retry_after: set = field(default_factory=set)
    times_503: list[float] = field(default_factory=list)  # monotonic times of each 503

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failed(self) -> int:
        """Anything but 200 (and 503, counted apart) is a failed request; so is an error."""
        return len(self.errors) + sum(n for s, n in self.statuses.items() if s not in (200, 503))


class Hammer:
    """Threads sending GET `path` to host:port until stopped (or `max_requests` each), `pause_s` apart
    (a pause leaves the 2 CPU cores to the engines the test is swapping)."""

    def __init__(
        self, port: int, path: str = "/v1/models", *, threads: int = 2, headers: dict | None = None,
        keep_alive: bool = False, max_requests: int = 20_000, pause_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.port, self.path, self.headers, self.pause_s = port, path, headers or {}, pause_s
        self.keep_alive, self.max_requests = keep_alive, max_requests
        self.tally = Tally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        conn = None
        for _ in range(self.max_requests):
            if self._stop.is_set():
                break
            try:
                if conn is None or not self.keep_alive:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                self._note(response.status, response.getheader("Retry-After"))
                if not self.keep_alive:
                    conn.close()
                if self.pause_s:
                    time.sleep(self.pause_s)
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.tally.errors.append(f"{type(exc).__name__}: {exc}")
                conn = None
                time.sleep(0.01)

    def _note(self, status: int, retry_after: str | None) -> None:
        with self._lock:
            self.tally.statuses[status] += 1
            if status == 503:
                self.tally.retry_after.add(retry_after)
                self.tally.times_503.append(time.monotonic())
