"""Wait until a freshly launched engine answers, or say quickly and clearly why it never will.

`wait_until_healthy` polls `spec.health_path` and then `spec.models_path` on the handle's endpoint
until both answer 200. Between polls it asks the runtime whether the instance still runs, so an
engine that dies at start (bad flag, missing file, out of memory) fails within one poll interval
instead of at the deadline. Both failures raise `EngineStartFailed` carrying the root cause read from
the engine's log (`start_failure.explain`: the first exception of the engine core, not the API
server's tail) and a hint for known causes. The whole log, secrets masked, is kept under
`<logs>/failed/` (mode 0600) and its path is in the error: `apply` removes the failed instance, and
with it the runtime's own log.

Plain `urllib` on purpose: nothing to import at CLI start, and a short timeout per request so a
server that accepts connections but never answers cannot stall the wait past its deadline.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from deployctl import settings
from deployctl.errors import EngineStartFailed
from deployctl.instance import Handle
from deployctl.launch_spec import LaunchSpec
from deployctl.runtimes.base import Runtime
from deployctl.runtimes.environment import redact, secret_values

KEPT_LOG_LINES = 50_000  # a start log is far shorter; this bounds a runaway one
KEPT_FAILED_LOGS = 20  # newest failed-start logs kept under <logs>/failed/
REQUEST_TIMEOUT_S = 2.0
POLL_INTERVAL_S = 0.5

ProgressCallback = Callable[[str, float], None]  # (what we wait for, seconds elapsed)


@dataclass(frozen=True)
class Healthy:
    """The engine answered: seconds from the call until both paths returned 200."""

    elapsed_s: float
    endpoint: str


def wait_until_healthy(
    runtime: Runtime,
    handle: Handle,
    spec: LaunchSpec,
    *,
    deadline_s: float,
    on_progress: ProgressCallback | None = None,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> Healthy:
    """Block until healthy; `EngineStartFailed` when the instance exits or `deadline_s` passes."""
    started = time.monotonic()
    headers = _auth_headers(spec)
    paths = [spec.health_path, spec.models_path]
    while True:
        elapsed = time.monotonic() - started
        state = runtime.state(handle)
        if not state.running:
            raise _exited(runtime, handle, spec, state.exit_code, elapsed)
        timeout_s = max(0.2, min(REQUEST_TIMEOUT_S, deadline_s - elapsed))
        while paths and probe(handle.endpoint + paths[0], headers, timeout_s) == 200:
            paths.pop(0)
        if not paths:
            return Healthy(elapsed_s=time.monotonic() - started, endpoint=handle.endpoint)
        if on_progress is not None:
            on_progress(f"waiting for {paths[0]}", elapsed)
        if elapsed >= deadline_s:
            raise start_failed(
                runtime,
                handle,
                spec,
                f"{spec.engine} did not answer {paths[0]} with 200 within {deadline_s:g} s",
                hint="if the model needs longer to load, raise serve.health_timeout_s in the recipe; "
                f"`deployctl logs {handle.deployment}` shows the engine's output",
            )
        time.sleep(min(poll_interval_s, deadline_s - elapsed))


def probe(
    url: str, headers: dict[str, str] | None = None, timeout_s: float = REQUEST_TIMEOUT_S
) -> int | None:
    """HTTP status of a GET, or None when nothing answered (refused, reset, timed out)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (our own endpoint)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def _exited(
    runtime: Runtime, handle: Handle, spec: LaunchSpec, code: int | None, elapsed: float
) -> EngineStartFailed:
    how = f"exited with code {code}" if code is not None else "is no longer running"
    return start_failed(
        runtime,
        handle,
        spec,
        f"{spec.engine} ({handle.name}) {how} {elapsed:.1f} s after start, before it became healthy",
        hint="fix the cause named above and apply again",
    )


def start_failed(
    runtime: Runtime, handle: Handle, spec: LaunchSpec, message: str, *, hint: str
) -> EngineStartFailed:
    """The error for a start that failed: root cause, the hint of a known cause (else `hint`), kept log."""
    from deployctl.serve.start_failure import explain

    text = full_log(runtime, handle, spec)
    why = explain(text)
    kept = keep_failed_log(handle.name, text)
    return EngineStartFailed(
        message,
        hint=f"{why.hint} [{why.source}]" if why.hint else hint,
        log_tail=why.root_cause,
        log_path=str(kept) if kept else None,
    )


def full_log(runtime: Runtime, handle: Handle, spec: LaunchSpec) -> str:
    """The engine's whole output (bounded), secret values masked; '' when unreadable."""
    try:
        text = "\n".join(runtime.logs(handle, tail=KEPT_LOG_LINES, follow=False))
    except Exception:  # a log we cannot read must not hide the real failure
        return ""
    return redact(text, secret_values(spec))


def keep_failed_log(name: str, text: str) -> Path | None:
    """Write the log to `<logs>/failed/<name>-<UTC time>.log` (0600), keeping the newest few."""
    if not text:
        return None
    folder = settings.logs_dir() / "failed"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = folder / f"{name}-{stamp}.log"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text + "\n")
        for old in sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime)[:-KEPT_FAILED_LOGS]:
            old.unlink(missing_ok=True)
    except OSError:
        return None
    return path


def _auth_headers(spec: LaunchSpec) -> dict[str, str]:
    """vLLM and trtllm guard /v1/models with the API key when one is set (health stays open)."""
    key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    return {"Authorization": f"Bearer {key}"} if key else {}
