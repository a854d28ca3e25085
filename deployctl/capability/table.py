"""The capability table (`data/capabilities.yaml`) as typed rows, and the one function that matches them.

Code judges, data states: every level, reason, fix and source lives in the YAML. A combination collects
EVERY matching row (weights rows and KV rows separately), and the worst level wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from deployctl.capability.catalogue import CPU_FAMILY, load_catalogue
from deployctl.engine_version import version_matches
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat
from deployctl.strict import StrictModel


class Level(str, Enum):
    """How a combination runs. Ordered: `max()` of levels is the worst."""

    NATIVE = "native"
    FALLBACK = "fallback"
    REJECTED = "rejected"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, levels: list[Level]) -> Level:
        return max(levels, key=lambda level: level.rank, default=cls.NATIVE)


_RANK = {Level.NATIVE: 0, Level.FALLBACK: 1, Level.REJECTED: 2}

Any_ = Literal["any"]
ArchSpec = Literal["any", "gpu"] | tuple[str, ...]


class _Row(StrictModel):
    level: Level
    reason: str = Field(..., min_length=8)
    source: str = Field(..., min_length=8)
    fix: str | None = None
    warning: str | None = None

    @model_validator(mode="after")
    def _rejections_say_how_to_fix(self) -> _Row:
        if self.level is Level.REJECTED and not self.fix:
            raise ValueError(f"a rejected row needs a fix: {self.reason}")
        if self.level is Level.FALLBACK and not self.warning:
            raise ValueError(f"a fallback row needs the warning text: {self.reason}")
        return self


@dataclass(frozen=True)
class RowContext:
    """What some rows depend on besides the combination: the engine version that will run (for the
    recipe's engine; other engines are judged at their pinned version), the model's `model_type`
    (None: unknown, so rows limited to model types do not match) and the KV scale form."""

    engine: EngineName | None = None
    version: str | None = None
    model_type: str | None = None
    kv_scales: str = "calibrated"

    def version_of(self, engine: EngineName) -> str:
        if engine == self.engine and self.version:
            return self.version
        return pinned_version(engine)


class ServingRow(_Row):
    """(weights, KV, engine, architectures) → level; optionally only for an engine version range,
    some model types, or one KV scale form."""

    engine: EngineName
    weights: Any_ | tuple[QuantFormat, ...]
    kv: Any_ | tuple[KvCacheFormat, ...]
    arch: ArchSpec
    versions: str | None = None  # e.g. "<0.33" (see engine_version.version_matches); None = every version
    model_types: tuple[str, ...] | None = None  # config.json model_type values; None = every model
    kv_scales: Literal["calibrated", "fixed"] | None = None

    def matches(
        self,
        weights: QuantFormat,
        kv: KvCacheFormat,
        engine: EngineName,
        family: str,
        context: RowContext | None = None,
    ) -> bool:
        context = context or RowContext()
        return (
            self.engine == engine
            and (self.weights == "any" or weights in self.weights)
            and (self.kv == "any" or kv in self.kv)
            and arch_matches(self.arch, family)
            and version_matches(context.version_of(engine), self.versions)
            and (self.model_types is None or context.model_type in self.model_types)
            and (self.kv_scales is None or context.kv_scales == self.kv_scales)
        )

    @field_validator("versions")
    @classmethod
    def _a_range(cls, value: str | None) -> str | None:
        version_matches("0.0.0", value)  # raises ValueError on a malformed range
        return value


class CalibrationRow(_Row):
    """(weights, KV, host) → where Model Optimizer can calibrate; host is `cpu` or `cuda`."""

    weights: Any_ | tuple[QuantFormat, ...]
    kv: Any_ | tuple[KvCacheFormat, ...]
    host: tuple[Literal["cpu", "cuda"], ...]

    def matches(self, weights: QuantFormat, kv: KvCacheFormat, host: str) -> bool:
        return (
            host in self.host
            and (self.weights == "any" or weights in self.weights)
            and (self.kv == "any" or kv in self.kv)
        )


class FeatureRow(_Row):
    """A recipe feature (api_key, bfloat16, ...) on an engine and architecture → a finding on `field`."""

    feature: Literal["api_key", "bfloat16", "tensor_parallel", "dummy_weights"]
    engines: tuple[EngineName, ...]
    arch: ArchSpec
    field: str


class CapabilityTable(StrictModel):
    versions: dict[str, str]
    serving: tuple[ServingRow, ...]
    calibration: tuple[CalibrationRow, ...]
    features: tuple[FeatureRow, ...]

    @field_validator("serving", "features")
    @classmethod
    def _known_families(
        cls, rows: tuple[ServingRow, ...] | tuple[FeatureRow, ...]
    ) -> tuple[ServingRow, ...] | tuple[FeatureRow, ...]:
        known = {a.family for a in load_catalogue().architectures} | {CPU_FAMILY}
        for row in rows:
            if isinstance(row.arch, tuple) and not set(row.arch) <= known:
                raise ValueError(f"unknown arch family in {sorted(set(row.arch) - known)}: {row.reason}")
        return rows


def arch_matches(spec: ArchSpec, family: str) -> bool:
    """`any` = every family and cpu; `gpu` = every known GPU family; else the listed families."""
    if spec == "any":
        return True
    if spec == "gpu":
        return family != CPU_FAMILY and load_catalogue().family(family) is not None
    return family in spec


@cache
def load_table() -> CapabilityTable:
    """Read and validate `data/capabilities.yaml` once per process."""
    text = resources.files("deployctl.data").joinpath("capabilities.yaml").read_text()
    return CapabilityTable.model_validate(yaml.safe_load(text))


_REGISTERED_SERVING: list[ServingRow] = []


def register_serving_rows(rows: Iterable[ServingRow | dict[str, Any]]) -> None:
    """Add serving rows at run time (an engine registered outside data/capabilities.yaml), validated."""
    _REGISTERED_SERVING.extend(ServingRow.model_validate(row) for row in rows)


def unregister_serving_rows(engine: str) -> None:
    _REGISTERED_SERVING[:] = [row for row in _REGISTERED_SERVING if row.engine != engine]


def serving_rows(
    weights: QuantFormat,
    kv: KvCacheFormat,
    engine: EngineName,
    family: str,
    context: RowContext | None = None,
) -> list[ServingRow]:
    rows = (*load_table().serving, *_REGISTERED_SERVING)
    return [row for row in rows if row.matches(weights, kv, engine, family, context)]


def pinned_version(engine: EngineName) -> str:
    """The engine version of the pinned image (data/engines.yaml): what rows are judged at by default."""
    from deployctl.engine_facts import engine_facts

    return engine_facts(engine).version


def calibration_rows(weights: QuantFormat, kv: KvCacheFormat, host: str) -> list[CalibrationRow]:
    return [row for row in load_table().calibration if row.matches(weights, kv, host)]


def feature_rows(feature: str, engine: EngineName, family: str) -> list[FeatureRow]:
    return [
        row
        for row in load_table().features
        if row.feature == feature and engine in row.engines and arch_matches(row.arch, family)
    ]
