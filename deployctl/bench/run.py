"""The concurrency sweep: one warm-up, then one bounded load level per concurrency, then the report."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deployctl.bench.client import LoadSettings, probe, run_level
from deployctl.bench.metrics import summarize
from deployctl.bench.prompts import make_prompts
from deployctl.bench.roofline import Roofline, decode_rate_from_tpot
from deployctl.errors import DeployctlError, UsageError

Reporter = Callable[[str], None]

DEFINITIONS = {
    "ttft": "time to first token: request sent → first streamed token (client side)",
    "tpot": "time per output token: (latency − TTFT) / (output tokens − 1), per request (vLLM's TPOT, "
    "AIPerf's inter_token_latency)",
    "itl": "inter-token latency: every gap between streamed chunks, pooled (vLLM's ITL, AIPerf's "
    "inter_chunk_latency)",
    "e2el": "end-to-end latency: request sent → last byte received",
    "output_throughput": "output tokens per second over the level's wall time (all requests)",
}


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="OpenAI base URL ending in /v1")
    model: str
    concurrency: tuple[int, ...] = (1,)
    num_prompts: int | None = Field(None, ge=1, description="per level; default 4 × concurrency, at least 8")
    input_len: int = Field(128, ge=1)
    output_len: int = Field(128, ge=1)
    prompt_kind: str = "random"
    api: str = "completions"
    ignore_eos: bool = True
    duration_s: float = Field(120.0, gt=0, description="per level: no new request starts after this")
    request_timeout_s: float = Field(120.0, gt=0)
    api_key_env: str | None = None
    seed: int = 0

    def prompts_for(self, concurrency: int) -> int:
        return self.num_prompts or max(8, 4 * concurrency)


class BenchReport(BaseModel):
    """What `deployctl bench --json` prints: vLLM's keys per level, plus how they were measured."""

    model_config = ConfigDict(extra="forbid")

    target: str
    model: str
    started_at: str
    config: dict[str, Any]
    ignore_eos_used: bool
    levels: list[dict[str, Any]]
    roofline: dict[str, Any] | None = None
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))

    def level(self, concurrency: int) -> dict[str, Any] | None:
        return next((lv for lv in self.levels if lv["max_concurrency"] == concurrency), None)


def run_bench(
    config: BenchConfig,
    *,
    bandwidth_gb_s: float | None = None,
    model_bytes: int | None = None,
    report: Reporter = lambda _: None,
) -> BenchReport:
    """Warm up, sweep the concurrency levels, attach the roofline when bandwidth and size are known."""
    settings = LoadSettings(
        base_url=config.base_url,
        model=config.model,
        api_key=_api_key(config.api_key_env),
        max_tokens=config.output_len,
        api=config.api,
        ignore_eos=config.ignore_eos,
        request_timeout_s=config.request_timeout_s,
    )
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    settings_used, levels = asyncio.run(_sweep(config, settings, report))
    result = BenchReport(
        target=config.base_url,
        model=config.model,
        started_at=started_at,
        config=config.model_dump(mode="json", exclude={"api_key_env"}),
        ignore_eos_used=settings_used.ignore_eos,
        levels=levels,
    )
    if bandwidth_gb_s and model_bytes:
        single = result.level(1)
        measured = decode_rate_from_tpot(single.get("median_tpot_ms") if single else None)
        result.roofline = Roofline(bandwidth_gb_s, model_bytes, measured).as_dict()
    return result


async def _sweep(
    config: BenchConfig, settings: LoadSettings, report: Reporter
) -> tuple[LoadSettings, list[dict[str, Any]]]:
    warm_prompt = make_prompts(1, config.input_len, kind=config.prompt_kind, seed=config.seed + 999)[0]
    settings, warm = await probe(settings, warm_prompt)
    if warm.error:
        raise DeployctlError(
            f"the endpoint {config.base_url} failed the warm-up request: {warm.error}",
            hint="check the URL, the model name (--model) and the API key variable (--api-key-env)",
        )
    if not settings.ignore_eos and config.ignore_eos:
        report("the server refused ignore_eos: output lengths are up to --output-len, not exactly it")
    levels = []
    for concurrency in config.concurrency:
        prompts = make_prompts(
            config.prompts_for(concurrency), config.input_len, kind=config.prompt_kind, seed=config.seed
        )
        report(f"concurrency {concurrency}: {len(prompts)} requests (at most {config.duration_s:g} s)")
        records, duration = await run_level(
            settings, prompts, concurrency=concurrency, deadline_s=config.duration_s
        )
        levels.append({"max_concurrency": concurrency, **summarize(records, duration_s=duration)})
    return settings, levels


def _api_key(name: str | None) -> str:
    """The key's value from the operator's environment, by NAME; servers without auth get a dummy."""
    if not name:
        return "EMPTY"
    value = os.environ.get(name)
    if not value:
        raise UsageError(
            f"the environment variable {name} is not set", hint=f"export {name}=... (the API key)"
        )
    return value
