"""The real Starter and Prober of the tune loop: `apply`/`destroy`, the openai SDK, `deployctl bench`.

Each candidate deploys as `<name>-tune` through the normal executor (health, smoke), so it starts exactly
as `deployctl apply` would start it. vLLM's compile cache (`VLLM_CACHE_ROOT`) is
`<DEPLOYCTL_HOME>/engine-cache/vllm` for every deployment (apply.build_spec), so candidates share it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from deployctl.errors import DeployctlError
from deployctl.recipe.model import Recipe
from deployctl.tune.loop import Figures, Greedy, Started


class ApplyStarter:
    def start(self, recipe: Recipe) -> Started:
        from deployctl.apply import apply_recipe
        from deployctl.bench.target import v1_url

        tick = time.perf_counter()
        result = apply_recipe(recipe)
        if result.spec is None or not result.endpoint:
            raise DeployctlError(f"{recipe.name} started without an endpoint")
        return Started(
            base_url=v1_url(result.endpoint),
            model=result.spec.engine_args.served_name,
            argv=tuple(result.spec.argv),
            start_s=result.timings.get("engine_start", time.perf_counter() - tick),
        )

    def stop(self, recipe: Recipe) -> None:
        from deployctl.deployments import destroy_deployment

        destroy_deployment(recipe.name)


@dataclass
class EndpointProber:
    """Greedy completions (temperature 0, logprobs for the token ids) and the bench's load generator."""

    input_len: int = 128
    output_len: int = 128
    num_prompts_c1: int = 8
    duration_s: float = 60.0
    api_key_env: str | None = None

    def greedy(self, started: Started, prompts: Sequence[str], max_tokens: int) -> list[Greedy]:
        from openai import OpenAI

        from deployctl.bench.run import _api_key

        client = OpenAI(
            base_url=started.base_url, api_key=_api_key(self.api_key_env), timeout=120, max_retries=0
        )
        outputs = []
        for prompt in prompts:
            try:
                done = client.completions.create(
                    model=started.model, prompt=prompt, max_tokens=max_tokens, temperature=0.0, logprobs=1,
                    seed=0, extra_body={"return_tokens_as_token_ids": True},
                )  # fmt: skip
            except Exception as exc:  # the engine's refusal is a failed candidate, not a traceback
                raise DeployctlError(f"greedy prompt failed: {type(exc).__name__}: {exc}") from None
            choice = done.choices[0]
            outputs.append(Greedy(text=choice.text, token_ids=_token_ids(choice)))
        return outputs

    def bench(self, started: Started, concurrency: int) -> Figures:
        from deployctl.bench.run import BenchConfig, run_bench

        config = BenchConfig(
            base_url=started.base_url,
            model=started.model,
            concurrency=(concurrency,),
            num_prompts=self.num_prompts_c1 if concurrency == 1 else max(8, 4 * concurrency),
            input_len=self.input_len,
            output_len=self.output_len,
            duration_s=self.duration_s,
            api_key_env=self.api_key_env,
        )
        level = run_bench(config).levels[0]
        if not level.get("completed"):
            raise DeployctlError(
                f"bench at concurrency {concurrency}: no request completed {level.get('errors')}"
            )
        return Figures(
            output_tok_s=level.get("output_throughput"),
            median_tpot_ms=level.get("median_tpot_ms"),
            median_ttft_ms=level.get("median_ttft_ms"),
        )


def _token_ids(choice: object) -> tuple[int, ...] | None:
    """The generated token ids: vLLM names each logprobs token 'token_id:N' when the request sets
    `return_tokens_as_token_ids` (entrypoints/openai/completion/protocol.py:137, vLLM 0.24.0); None when
    the engine gives no such tokens (then the text is compared)."""
    logprobs = getattr(choice, "logprobs", None)
    tokens = getattr(logprobs, "tokens", None) if logprobs is not None else None
    if not tokens or not all(str(t).startswith("token_id:") for t in tokens):
        return None
    return tuple(int(str(t).removeprefix("token_id:")) for t in tokens)
