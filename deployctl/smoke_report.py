"""What a smoke test found: per-check latency and token counts (recorded in state, shown by `status`).

A value module below `serve/` so that the state document can hold a report without importing the
smoke client (which imports the `openai` SDK when it runs).
"""

from __future__ import annotations

from deployctl.strict import StrictModel


class SmokeCheck(StrictModel):
    name: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    time_to_first_token_ms: float | None = None
    text: str = ""  # a preview of the generated text


class SmokeReport(StrictModel):
    base_url: str
    model: str
    models: tuple[str, ...]
    model_listed: bool  # False for `transformers serve`, which lists its cache, not the pinned model
    checks: tuple[SmokeCheck, ...]

    @property
    def total_ms(self) -> float:
        return sum(check.latency_ms for check in self.checks)
