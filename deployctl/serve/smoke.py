"""Smoke test: does the endpoint answer the way an OpenAI client expects? Checked with the real `openai` SDK.

Four checks, in order, each timed:
  models      GET /v1/models answers a list (the served id is picked from it unless given)
  chat        POST /v1/chat/completions: non-empty text, finish reason stop/length, usage consistent
  completion  POST /v1/completions: the same checks on the legacy endpoint
  stream      streamed chat with `stream_options.include_usage`: text arrives in chunks, the final
              chunk carries usage (measured: a request cut off when the server stops still ends in
              HTTP 200 and `[DONE]`, so only the usage counts tell a truncated stream from a good one)

With `require_text=False` (engine-initialised dummy weights, whose tokens may decode to nothing) an
answer is judged by its finish reason and usage counts alone.

"Usage consistent" means prompt_tokens >= 1, 1 <= completion_tokens <= max_tokens and, when given,
total = prompt + completion. The first failing check raises `SmokeTestFailed` naming it; success
returns a frozen `SmokeReport` with per-check latency and token counts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from deployctl.errors import SmokeTestFailed
from deployctl.recipe.model import SMOKE_PROMPT, Recipe
from deployctl.smoke_report import SmokeCheck, SmokeReport

FINISH_REASONS = ("stop", "length")
_PREVIEW_CHARS = 120
T = TypeVar("T")


def smoke_recipe(recipe: Recipe, endpoint: str, *, model: str | None = None) -> SmokeReport:
    """The recipe's smoke test (its prompt, token budget, timeout and API key variable) against `endpoint`."""
    api_key = os.environ.get(recipe.serve.api_key_env) if recipe.serve.api_key_env else None
    return run_smoke(
        endpoint,
        api_key=api_key,
        model=model,
        prompt=recipe.smoke.prompt,
        max_tokens=recipe.smoke.max_tokens,
        timeout_s=recipe.smoke.timeout_s,
        require_text=not recipe.model.dummy,  # random weights may answer in tokens that decode to nothing
    )


def run_smoke(
    base_url: str,
    *,
    api_key: str | None = None,
    model: str | None = None,
    prompt: str = SMOKE_PROMPT,
    max_tokens: int = 16,
    timeout_s: float = 120,
    require_text: bool = True,
) -> SmokeReport:
    """Run the four checks against `base_url` (with or without /v1); raise on the first failure."""
    from openai import OpenAI

    root = base_url.rstrip("/").removesuffix("/v1")
    # Closing the client closes its keep-alive connections: an idle one left open makes some servers
    # (transformers serve) wait out their whole graceful-stop window when the engine is stopped later.
    with OpenAI(
        base_url=f"{root}/v1", api_key=api_key or "unused", timeout=timeout_s, max_retries=0
    ) as client:
        started = time.perf_counter()
        listed = _guarded("models", root, lambda: [m.id for m in client.models.list().data])
        models_check = SmokeCheck(name="models", latency_ms=_ms_since(started))
        if model is None:
            if not listed:
                raise SmokeTestFailed(
                    "models: the server lists no model, so there is nothing to ask",
                    hint="pass the served model name (--model)",
                )
            model = listed[0]
        served: str = model
        ask = (client, served, prompt, max_tokens, require_text)
        checks = [
            models_check,
            _guarded("chat", root, lambda: _check_chat(*ask)),
            _guarded("completion", root, lambda: _check_completion(*ask)),
            _guarded("stream", root, lambda: _check_stream(*ask)),
        ]
    return SmokeReport(
        base_url=root, model=served, models=tuple(listed), model_listed=served in listed, checks=tuple(checks)
    )


def _check_chat(client: Any, model: str, prompt: str, max_tokens: int, require_text: bool) -> SmokeCheck:
    started = time.perf_counter()
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0
    )
    latency = _ms_since(started)
    choice = _first_choice("chat", response)
    return _verified(
        "chat",
        latency,
        choice.message.content,
        choice.finish_reason,
        response.usage,
        max_tokens,
        require_text,
    )


def _check_completion(
    client: Any, model: str, prompt: str, max_tokens: int, require_text: bool
) -> SmokeCheck:
    started = time.perf_counter()
    response = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens, temperature=0)
    latency = _ms_since(started)
    choice = _first_choice("completion", response)
    return _verified(
        "completion", latency, choice.text, choice.finish_reason, response.usage, max_tokens, require_text
    )


def _check_stream(client: Any, model: str, prompt: str, max_tokens: int, require_text: bool) -> SmokeCheck:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    finish_reason = usage = first_token_ms = None
    for chunk in stream:
        for choice in chunk.choices or ():
            if choice.delta is not None and choice.delta.content:
                first_token_ms = first_token_ms if first_token_ms is not None else _ms_since(started)
                parts.append(choice.delta.content)
            finish_reason = choice.finish_reason or finish_reason
        usage = chunk.usage or usage
    text = "".join(parts)
    check = _verified("stream", _ms_since(started), text, finish_reason, usage, max_tokens, require_text)
    return check.model_copy(update={"time_to_first_token_ms": first_token_ms})


def _verified(
    name: str,
    latency_ms: float,
    text: str | None,
    finish_reason: str | None,
    usage: Any,
    max_tokens: int,
    require_text: bool = True,
) -> SmokeCheck:
    """The assertions every generating check shares; raises `SmokeTestFailed` naming `name`."""
    if not text and require_text:
        raise SmokeTestFailed(f"{name}: the engine returned no text")
    if usage is None:
        raise SmokeTestFailed(
            f"{name}: the response carries no usage counts (the answer may have been cut off)"
        )
    if finish_reason not in FINISH_REASONS:
        raise SmokeTestFailed(
            f"{name}: finish reason {finish_reason!r}, expected one of {', '.join(FINISH_REASONS)}"
        )
    prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens
    if not prompt_tokens or prompt_tokens < 1:
        raise SmokeTestFailed(f"{name}: usage says the prompt had {prompt_tokens} tokens")
    if not completion_tokens or not 1 <= completion_tokens <= max_tokens:
        raise SmokeTestFailed(
            f"{name}: usage says {completion_tokens} completion tokens, expected 1..{max_tokens}"
        )
    total = getattr(usage, "total_tokens", None)
    if total is not None and total != prompt_tokens + completion_tokens:
        raise SmokeTestFailed(
            f"{name}: usage is inconsistent: total {total} != prompt {prompt_tokens} + completion {completion_tokens}"
        )
    return SmokeCheck(
        name=name,
        latency_ms=latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason,
        text=(text or "")[:_PREVIEW_CHARS],
    )


def _first_choice(name: str, response: Any) -> Any:
    if not getattr(response, "choices", None):
        raise SmokeTestFailed(f"{name}: the response has no choices")
    return response.choices[0]


def _guarded(name: str, root: str, call: Callable[[], T]) -> T:
    """Run one check; the SDK's errors become `SmokeTestFailed` naming the check and the fix."""
    import openai

    try:
        return call()
    except SmokeTestFailed:
        raise
    except openai.AuthenticationError:
        raise SmokeTestFailed(
            f"{name}: {root} refused the API key (HTTP 401)",
            hint="export the variable named by serve.api_key_env before running deployctl",
        ) from None
    except openai.APIStatusError as exc:
        raise SmokeTestFailed(
            f"{name}: HTTP {exc.status_code} from {root}: {_short(exc)}",
            hint="the engine passed its health check but failed a real request; its log says why "
            "(deployctl logs NAME)"
            if exc.status_code >= 500
            else None,
        ) from None
    except openai.APIConnectionError as exc:
        raise SmokeTestFailed(
            f"{name}: no answer from {root} ({_short(exc)})",
            hint="check that the deployment runs: deployctl status",
        ) from None


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
