"""The async load generator: N workers stream completions from an OpenAI-compatible endpoint.

Bounded twice: each level sends at most `num_prompts` requests, stops starting new ones at its
deadline, and every request has its own timeout, so a stuck server cannot hold a run forever.
The openai SDK is imported here, when a run starts (never at CLI start-up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from deployctl.bench.metrics import RequestRecord


@dataclass(frozen=True)
class LoadSettings:
    base_url: str  # ends with /v1
    model: str
    api_key: str
    max_tokens: int
    api: str = "completions"  # or "chat"
    ignore_eos: bool = True
    request_timeout_s: float = 120.0


def make_client(settings: LoadSettings) -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key,
        timeout=settings.request_timeout_s,
        max_retries=0,
    )


async def timed_request(client: Any, settings: LoadSettings, prompt: str) -> RequestRecord:
    """Send one streamed request; record when each text-bearing chunk arrived and the usage counts."""
    start = time.perf_counter()
    chunk_times: list[float] = []
    usage = None
    error = None
    try:
        stream = await _create(client, settings, prompt)
        async for chunk in stream:
            now = time.perf_counter()
            if _chunk_text(chunk, settings.api):
                chunk_times.append(now)
            if getattr(chunk, "usage", None):
                usage = chunk.usage
    except Exception as exc:  # every failure is a data point, reported by kind
        error = describe_error(exc)
    end = time.perf_counter()
    return RequestRecord(
        start=start,
        end=end,
        chunk_times=tuple(chunk_times),
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        # Without usage, one chunk ≈ one token (true for vLLM and transformers serve streams).
        output_tokens=(getattr(usage, "completion_tokens", 0) or 0) if usage else len(chunk_times),
        error=error,
    )


async def run_level(
    settings: LoadSettings, prompts: Sequence[str], *, concurrency: int, deadline_s: float
) -> tuple[list[RequestRecord], float]:
    """Run `prompts` through `concurrency` workers until done or `deadline_s`; (records, duration)."""
    client = make_client(settings)
    queue = list(reversed(prompts))
    records: list[RequestRecord] = []
    started = time.perf_counter()
    stop_at = started + deadline_s

    async def worker() -> None:
        while queue and time.perf_counter() < stop_at:
            records.append(await timed_request(client, settings, queue.pop()))

    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))),
            timeout=deadline_s + settings.request_timeout_s,
        )
    except asyncio.TimeoutError:
        pass  # the requests still in flight are dropped; what finished is reported
    finally:
        await client.close()
    return records, time.perf_counter() - started


async def probe(settings: LoadSettings, prompt: str) -> tuple[LoadSettings, RequestRecord]:
    """A warm-up request. A server that rejects the request while `ignore_eos` is set (transformers
    serve: HTTP 422 "Unexpected fields") but accepts it without gets the run without `ignore_eos`, and
    the report says so. (A streamed error's body is not read by the SDK, so the status decides.)"""
    client = make_client(settings)
    try:
        record = await timed_request(client, settings, prompt)
        if settings.ignore_eos and (record.error or "").startswith(("HTTP 400", "HTTP 422")):
            without = replace(settings, ignore_eos=False)
            retry = await timed_request(client, without, prompt)
            if retry.error is None:
                settings, record = without, retry
    finally:
        await client.close()
    return settings, record


async def _create(client: Any, settings: LoadSettings, prompt: str) -> Any:
    extra = {"ignore_eos": True} if settings.ignore_eos else None
    common: dict[str, Any] = {
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "extra_body": extra,
    }
    if settings.api == "chat":
        return await client.chat.completions.create(messages=[{"role": "user", "content": prompt}], **common)
    return await client.completions.create(prompt=prompt, **common)


def _chunk_text(chunk: Any, api: str) -> str:
    choices = getattr(chunk, "choices", None) or []
    if not choices:
        return ""
    if api == "chat":
        delta = getattr(choices[0], "delta", None)
        return (getattr(delta, "content", None) or "") if delta else ""
    return getattr(choices[0], "text", None) or ""


def describe_error(exc: BaseException) -> str:
    """`HTTP 422: Unexpected fields ...` or `APITimeoutError`: short, and the same for equal causes."""
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()
    first = message[0][:200] if message else ""
    if status is not None:
        return f"HTTP {status}: {first}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
