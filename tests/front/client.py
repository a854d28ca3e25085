"""A bounded client for the front tests: hammers a URL from threads and tallies what came back.

Each request opens a new connection (what the front's switch must never refuse or reset) unless
`keep_alive`; every answer is classified by status, and a connection error counts as a failure.
With a `body` it POSTs that JSON instead of a GET, and with a `check` an answer the check rejects
(a stream cut short, say: `stream_finished`) counts as an error, not as its status.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# An answer's check: (status, body text) -> why it is wrong, or None when it is right.
Check = Callable[[int, str], str | None]


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
    """Threads sending GET `path` (POST `body`, when given) to host:port until stopped (or `max_requests`
    each), `pause_s` apart (a pause leaves the 2 CPU cores to the engines the test is swapping)."""

    def __init__(
        self, port: int, path: str = "/v1/models", *, threads: int = 2, headers: dict | None = None,
        body: dict | None = None, check: Check | None = None, keep_alive: bool = False,
        max_requests: int = 20_000, pause_s: float = 0.0, timeout_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.port, self.path, self.headers, self.pause_s = port, path, dict(headers or {}), pause_s
        self.body, self.check, self.timeout_s = body, check, timeout_s
        self.keep_alive, self.max_requests = keep_alive, max_requests
        if body is not None:
            self.headers.setdefault("Content-Type", "application/json")
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
            thread.join(timeout=self.timeout_s + 20)

    def _run(self) -> None:
        conn = None
        method, payload = ("GET", None) if self.body is None else ("POST", json.dumps(self.body))
        for _ in range(self.max_requests):
            if self._stop.is_set():
                break
            try:
                if conn is None or not self.keep_alive:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
                conn.request(method, self.path, payload, headers=self.headers)
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
                wrong = self.check(response.status, text) if self.check else None
                if wrong is None:
                    self._note(response.status, response.getheader("Retry-After"))
                else:
                    with self._lock:
                        self.tally.errors.append(wrong)
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


def stream_finished(status: int, text: str) -> str | None:
    """A streamed chat completion that came back whole: 200, a finish reason, and usage counting every
    token streamed. transformers serve ends a stream with its usage chunk (vLLM adds "[DONE]"): a stream
    cut at a switch would lack the finish reason or the usage."""
    try:
        chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    except ValueError:  # a chunk cut in the middle
        return f"{status}, a chunk is not JSON: {text[-200:]}"
    finished = any(c["choices"] and c["choices"][0].get("finish_reason") for c in chunks)
    streamed = sum(1 for c in chunks if c["choices"] and c["choices"][0].get("delta", {}).get("content"))
    usage = (chunks[-1].get("usage") or {}) if chunks else {}
    if status != 200 or not finished or usage.get("completion_tokens", -1) < streamed:
        return f"{status}: {text[-200:]}"
    return None
