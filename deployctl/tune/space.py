"""What `deployctl tune` tries: candidates (named option sets) and the order of the search. Pure.

The search is coordinate ascent, bounded: the engine's defaults first (the reference every other
candidate is compared with), then one option at a time, then the combination of the single options
that won. A candidate that changes numerics (fp8 KV cache without calibrated scales) is measured and
reported apart, and wins only with `allow_numerics_change`.

The default vLLM space is small on purpose (defaults, up to four single options in the order of their
expected gain, their combination; the start budget cuts the tail): each start of an 8B model costs
60–120 s on an H200. Why these options (vLLM 0.24.0, sources in engines/vllm.py's docstring):
- `linear_backend: torch` (FP8 checkpoints): cuBLASLt's `_scaled_mm` instead of CUTLASS for the FP8 GEMMs;
  at batch 1 a GEMM is a matrix-vector product bound by reading the weights, where the two libraries'
  kernels differ;
- `performance_mode: interactivity` (last: concurrencies 1 and 16 are already captured sizes) captures a CUDA graph for every batch size 1..32 (the default captures
  1, 2, 4, 8, 16, 24, ...): a batch never pads to the next captured size;
- `stream_interval: 8` sends 8 tokens per streamed chunk: less host work per token in the API server
  (the tokens are the same; the first token is still sent at once);
- `max_batch_size: 4 × concurrency` (at least 32): the default max_num_seqs on a ≥70 GiB GPU is 1024
  (engine/arg_utils.py:2406), which captures graphs up to 512 and reserves scheduler room no target
  concurrency uses; fewer, smaller graphs leave more memory to the KV cache.
Left out by default: `async_scheduling: true` (already what vLLM 0.24 decides for a generative model,
config/vllm.py:964-1004), `cuda_graph_mode` (the default FULL_AND_PIECEWISE already runs uniform decode
batches in one full graph), `kv_cache_dtype: fp8` (changes numerics; added with allow_numerics_change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deployctl.recipe.model import KvCacheFormat, QuantFormat, Recipe

DEFAULT = "default"
COMBINED = "combined"
NUMERICS_KEYS = frozenset({"kv_cache_dtype"})
# Formats whose linear layers run a quantized GEMM vLLM can pick a backend for (per-tensor FP8 on Hopper:
# CUTLASS by default, cuBLASLt through `torch`); the greedy check decides whether outputs stay the same.
LINEAR_BACKEND_FORMATS = frozenset({QuantFormat.FP8})  # options whose outputs may differ from the defaults'


@dataclass(frozen=True)
class Candidate:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changes_numerics(self) -> bool:
        return bool(NUMERICS_KEYS & set(self.options))


def vllm_space(recipe: Recipe, concurrency: int, *, allow_numerics_change: bool = False) -> list[Candidate]:
    """The single-option candidates for a vLLM recipe, leaving out every key the recipe pins itself."""
    singles = []
    if recipe.quantization.format in LINEAR_BACKEND_FORMATS:
        singles.append(Candidate("linear-torch", {"linear_backend": "torch"}))
    singles += [
        Candidate("stream-interval-8", {"stream_interval": 8}),
        Candidate(f"max-seqs-{max(32, 4 * concurrency)}", {"max_batch_size": max(32, 4 * concurrency)}),
        Candidate("interactivity", {"performance_mode": "interactivity"}),
    ]
    if allow_numerics_change and recipe.quantization.kv_cache is KvCacheFormat.NONE:
        singles.append(Candidate("kv-fp8", {"kv_cache_dtype": "fp8"}))
    return [c for c in singles if all(getattr(recipe.engine, key) is None for key in c.options)]


def space_from_options(pairs: Sequence[tuple[str, Any]]) -> list[Candidate]:
    """`--option key=value` candidates, one each, named after the pair."""
    return [Candidate(f"{key}={_text(value)}", {key: value}) for key, value in pairs]


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


@dataclass(frozen=True)
class Outcome:
    """What the search needs to know of a finished candidate."""

    decode_tok_s: float | None  # batch-1 decode rate (1 / median TPOT)
    cn_tok_s: float | None  # output tok/s at the target concurrency
    outputs_match: bool
    failed: bool = False


def qualifies(outcome: Outcome, reference: Outcome, *, cn_floor: float = 0.98) -> bool:
    """Outputs match and capacity at the target concurrency holds (≥ 98 % of the defaults')."""
    if outcome.failed or not outcome.outputs_match or not outcome.cn_tok_s or not reference.cn_tok_s:
        return False
    return outcome.cn_tok_s >= cn_floor * reference.cn_tok_s


def beats(outcome: Outcome, reference: Outcome, *, margin: float = 1.01) -> bool:
    """Batch-1 decode faster than the reference by more than the noise margin, and qualifying."""
    if not qualifies(outcome, reference) or not outcome.decode_tok_s or not reference.decode_tok_s:
        return False
    return outcome.decode_tok_s >= margin * reference.decode_tok_s


def next_candidate(
    singles: Sequence[Candidate],
    done: Mapping[str, Outcome],
    *,
    allow_numerics_change: bool = False,
) -> Candidate | None:
    """The next candidate to measure, or None when the search is over (every order decision is here)."""
    if DEFAULT not in done:
        return Candidate(DEFAULT)
    for candidate in singles:
        if candidate.name not in done:
            return candidate
    winners = winning_singles(singles, done, allow_numerics_change=allow_numerics_change)
    if len(winners) >= 2 and COMBINED not in done:
        merged: dict[str, Any] = {}
        for candidate in winners:
            merged.update(candidate.options)
        return Candidate(COMBINED, merged)
    return None


def winning_singles(
    singles: Sequence[Candidate], done: Mapping[str, Outcome], *, allow_numerics_change: bool = False
) -> list[Candidate]:
    reference = done.get(DEFAULT)
    if reference is None:
        return []
    return [
        c
        for c in singles
        if c.name in done
        and (allow_numerics_change or not c.changes_numerics)
        and beats(_as_matching(done[c.name], c, allow_numerics_change), reference)
    ]


def _as_matching(outcome: Outcome, candidate: Candidate, allow: bool) -> Outcome:
    """A numerics-changing candidate is judged without the token-for-token check when it is allowed."""
    if allow and candidate.changes_numerics:
        return Outcome(outcome.decode_tok_s, outcome.cn_tok_s, True, outcome.failed)
    return outcome


def best(
    candidates: Sequence[Candidate], done: Mapping[str, Outcome], *, allow_numerics_change: bool = False
) -> Candidate | None:
    """The winner: the fastest batch-1 decode among candidates that qualify; None = keep the defaults."""
    reference = done.get(DEFAULT)
    if reference is None:
        return None
    fitting = [
        c
        for c in candidates
        if c.name != DEFAULT
        and c.name in done
        and (allow_numerics_change or not c.changes_numerics)
        and beats(_as_matching(done[c.name], c, allow_numerics_change), reference)
    ]
    return max(fitting, key=lambda c: done[c.name].decode_tok_s or 0.0, default=None)


def confirms(
    repeat: Outcome, reference: Outcome, candidate: Candidate, *, allow_numerics_change: bool = False
) -> bool:
    """The winner's second measurement beats the defaults' second one by the search's own rule."""
    return beats(_as_matching(repeat, candidate, allow_numerics_change), reference)
