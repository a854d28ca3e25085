"""The judge's answer: typed, frozen, printable, and the one place a rejection becomes an error."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import computed_field

from deployctl.capability.catalogue import GpuInfo
from deployctl.capability.memory import MemoryEstimate
from deployctl.capability.table import Level
from deployctl.engine_version import JudgedVersion
from deployctl.errors import CapabilityRejected
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat, Recipe
from deployctl.strict import StrictModel


class Finding(StrictModel):
    """One statement about the recipe: what (subject), how bad (level), why, and where it comes from."""

    subject: str  # serving | calibration | memory | api-key | dtype | parallelism | shape
    level: Level
    reason: str
    source: str
    field: str | None = None  # the recipe field to change
    fix: str | None = None
    warning: str | None = None  # fallback: the text the engine prints
    fitting_max_model_len: int | None = None  # memory: a shorter max_model_len that would fit


class SwapChoice(StrictModel):
    """The strategy `apply` uses when the engine must change, and why (shown in the plan)."""

    strategy: Literal["replace", "blue-green"]
    reason: str


class Alternative(StrictModel):
    """A combination near the recipe's that would work, and how well."""

    weights: QuantFormat
    kv_cache: KvCacheFormat
    engine: EngineName
    gpu: str
    gpu_count: int = 1
    level: Level
    note: str | None = None

    def describe(self, weights: QuantFormat, kv: KvCacheFormat, engine: EngineName, gpu: str) -> str:
        """Only what differs from the recipe: 'fp8', 'nvfp4 with vllm (fallback)', 'H200 ×2'."""
        formats = []
        if self.weights is not weights:
            formats.append(self.weights.value)
        if self.kv_cache is not kv:
            formats.append(f"{self.kv_cache.value} KV cache")
        text = " + ".join(formats)
        if self.engine is not engine:
            text = f"{text} with {self.engine.value}" if text else self.engine.value
        if self.gpu != gpu or self.gpu_count > 1:
            where = self.gpu + (f" ×{self.gpu_count}" if self.gpu_count > 1 else "")
            text = f"{text} on {where}" if text else where
        if self.level is Level.FALLBACK:
            text += " (fallback)"
        return f"{text}, {self.note}" if self.note else text


class Verdict(StrictModel):
    """Worst level of the findings; alternatives are filled when the verdict is not native."""

    weights: QuantFormat
    kv_cache: KvCacheFormat
    engine: EngineName
    gpu: GpuInfo
    gpu_count: int = 1
    level: Level
    findings: tuple[Finding, ...]
    alternatives: tuple[Alternative, ...] = ()
    memory: MemoryEstimate | None = None
    swap: SwapChoice | None = None  # recipes only: how a changed engine would be swapped in
    engine_version: JudgedVersion | None = None  # the engine version the rows were judged for

    @computed_field  # type: ignore[prop-decorator]  # in --json output too (pydantic documents this form)
    @property
    def ok(self) -> bool:
        return self.level is not Level.REJECTED

    @property
    def rejections(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level is Level.REJECTED)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What to print before going ahead with a fallback (the engine's own words where known)."""
        return tuple(f"{f.reason}. {f.warning}" for f in self.findings if f.level is Level.FALLBACK)

    def summary(self) -> str:
        """'nvfp4 needs Blackwell (sm100+) in trtllm; on RTX 4090 (sm89) try w4a16_awq or fp8'."""
        worst = self.rejections or tuple(f for f in self.findings if f.level is self.level)
        text = (
            worst[0].reason if worst else f"{self.weights.value} with {self.engine.value}: {self.level.value}"
        )
        if self.alternatives and self.level is not Level.NATIVE:
            tries = [
                a.describe(self.weights, self.kv_cache, self.engine, self.gpu.name) for a in self.alternatives
            ]
            text += f"; on {self.gpu.label} try {' or '.join(tries[:2])}"
        return text

    def raise_if_rejected(self, *, file: Path | str | None = None, line: int | None = None) -> None:
        """Raise `CapabilityRejected` naming the first reason, its fix, and the alternatives."""
        if self.ok:
            return
        first = self.rejections[0]
        hints = [first.fix] if first.fix else []
        if self.alternatives:
            tries = [
                a.describe(self.weights, self.kv_cache, self.engine, self.gpu.name) for a in self.alternatives
            ]
            hints.append("would work: " + "; ".join(tries))
        raise CapabilityRejected(
            self.summary(),
            hint=" — ".join(hints) or None,
            field=first.field,
            file=file,
            line=line,
            details=[f"{f.reason} [{f.source}]" for f in self.rejections[1:]]
            + ([f"judged for {self.engine_version.label()}"] if self.engine_version else []),
        )


def fitted_recipe(recipe: Recipe, verdict: Verdict) -> Recipe:
    """The recipe with the max_model_len the judge chose when it was unset and the model's full context
    does not fit (`MemoryEstimate.chosen_max_model_len`); the recipe itself otherwise."""
    chosen = verdict.memory.chosen_max_model_len if verdict.memory is not None else None
    if chosen is None or recipe.engine.max_model_len is not None:
        return recipe
    return recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"max_model_len": chosen})})


def raise_if_rejected(
    verdict: Verdict, recipe: Recipe | None = None, *, file: Path | str | None = None
) -> None:
    """`verdict.raise_if_rejected`, as a function; `file` (the recipe path) goes into the error's location.

    `recipe`, when it was read from a file, gives the line of the rejected field.
    """
    line = None
    if recipe is not None and not verdict.ok:
        from deployctl.recipe.lines import recipe_line

        line = recipe_line(recipe, verdict.rejections[0].field)
    verdict.raise_if_rejected(file=file, line=line)
