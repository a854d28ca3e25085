"""Tuned engine profiles: measured settings (`deployctl tune`) that `apply` and `plan` use by default.

A profile is a row of `deployctl/data/profiles.yaml` (or the file `DEPLOYCTL_PROFILES` names): the
engine options that won a tune, the situation they were measured in (`match`), and the measurement
(`measured`, with the repo path of its result JSON). Matching is pure (no I/O): the same GPU (catalogue
name), engine, engine release (major.minor: a patch release keeps its defaults), weight format, KV format
and model shape class. The recipe's own settings always win: a profile fills only the tuning options the
recipe leaves unset, and the plan names those it pinned.

`engine.profile: auto` (the default) takes the matching profile whose greedy outputs matched the
defaults'; `none` takes none; a profile id takes that one (refused when it does not match the recipe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from deployctl.capability.shapes import ModelShape
from deployctl.errors import DeployctlError, RecipeError
from deployctl.recipe.model import TUNING_KEYS, EngineSpec, KvCacheFormat, QuantFormat, Recipe
from deployctl.strict import StrictModel

if TYPE_CHECKING:
    from deployctl.capability.verdict import Verdict

PROFILES_ENV = "DEPLOYCTL_PROFILES"

# Shape classes: dense models by total parameters (billions, half-open buckets); MoE models the same with
# a `moe-` prefix. Wide enough that one profile covers a model family's sibling checkpoints, narrow
# enough that the engine's launch overheads (which tuning removes) are a similar share of a decode step.
SHAPE_BUCKETS = ((2, "1b"), (6, "4b"), (10, "8b"), (20, "14b"), (45, "32b"), (100, "70b"), (1e9, "xl"))


def shape_class(shape: ModelShape | None) -> str | None:
    """'dense-8b' for a 6–10 B dense model, 'moe-32b' for a 20–45 B MoE; None when the shape is unknown."""
    if shape is None:
        return None
    billions = shape.params / 1e9
    size = next(name for bound, name in SHAPE_BUCKETS if billions < bound)
    return f"{'moe' if shape.experts > 1 else 'dense'}-{size}"


def release(version: str) -> str:
    """'0.24' of '0.24.0' (major.minor: what a profile is matched on)."""
    return ".".join(version.split(".")[:2])


class ProfileMatch(StrictModel):
    gpu: str = Field(description="catalogue name as in data/gpus.yaml (cpu for the CPU)")
    engine: str
    engine_version: str = Field(description="the version measured; profiles match its major.minor")
    format: QuantFormat
    kv_cache: KvCacheFormat
    shape_class: str = Field(pattern=r"^(dense|moe)-[0-9a-z]+$")


class Measured(StrictModel):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    machine: str
    source: str = Field(description="repo path of the result JSON the figures come from")
    concurrency: int = Field(ge=1)
    default_tok_s: float = Field(gt=0, description="batch-1 decode, engine defaults")
    tuned_tok_s: float = Field(gt=0, description="batch-1 decode, the profile's options")
    default_cn_tok_s: float = Field(gt=0, description="output tok/s at `concurrency`, defaults")
    tuned_cn_tok_s: float = Field(gt=0, description="output tok/s at `concurrency`, the profile")
    greedy_outputs_match: bool

    @property
    def ratio(self) -> float:
        return self.tuned_tok_s / self.default_tok_s

    @property
    def cn_ratio(self) -> float:
        return self.tuned_cn_tok_s / self.default_cn_tok_s


class Profile(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,80}$")
    match: ProfileMatch
    options: dict[str, Any] = Field(description="recipe engine keys (TUNING_KEYS) and their values")
    measured: Measured

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(TUNING_KEYS))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}: a profile sets only {', '.join(TUNING_KEYS)}")
        if not options:
            raise ValueError("a profile sets at least one option")
        return options

    @model_validator(mode="after")
    def _options_are_valid_engine_keys(self) -> Profile:
        # The recipe's own validators judge the values (a bad value fails here, not at apply).
        EngineSpec.model_validate({"name": self.match.engine, **self.options})
        return self

    def gain(self) -> str:
        """'batch-1 decode 1.14× (300 → 342 tok/s), c16 1.02×, measured 2026-11-30'."""
        m = self.measured
        return (
            f"batch-1 decode {m.ratio:.2f}× ({m.default_tok_s:.0f} → {m.tuned_tok_s:.0f} tok/s), "
            f"c{m.concurrency} {m.cn_ratio:.2f}×, measured {m.date}"
        )


class ProfileFile(StrictModel):
    profiles: tuple[Profile, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> ProfileFile:
        ids = [p.id for p in self.profiles]
        if len(ids) != len(set(ids)):
            raise ValueError(f"profile ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        return self


@dataclass(frozen=True)
class ProfileKey:
    """The situation a recipe deploys into: what a profile's `match` is compared with."""

    gpu: str
    engine: str
    engine_version: str
    format: QuantFormat
    kv_cache: KvCacheFormat
    shape_class: str | None

    @classmethod
    def of(cls, recipe: Recipe, verdict: Verdict, shape: ModelShape | None) -> ProfileKey:
        """The key of a judged recipe: the GPU and the engine version are the verdict's."""
        return cls(
            gpu=verdict.gpu.name,
            engine=recipe.engine.name.value,
            engine_version=verdict.engine_version.version if verdict.engine_version else "",
            format=recipe.quantization.format,
            kv_cache=recipe.quantization.kv_cache,
            shape_class=shape_class(shape),
        )

    def describe(self) -> str:
        return (
            f"{self.gpu}, {self.engine} {self.engine_version}, {self.format.value}, KV {self.kv_cache.value}, "
            f"{self.shape_class or 'unknown shape'}"
        )


def matches(profile: Profile, key: ProfileKey) -> bool:
    m = profile.match
    return (
        m.gpu.lower() == key.gpu.lower()
        and m.engine == key.engine
        and release(m.engine_version) == release(key.engine_version)
        and (m.format, m.kv_cache) == (key.format, key.kv_cache)
        and m.shape_class == key.shape_class
    )


@dataclass(frozen=True)
class ProfileChoice:
    """The profile a recipe deploys with: the options it filled, and those the recipe pinned itself."""

    profile: Profile
    applied: dict[str, Any]
    pinned: tuple[str, ...]

    def summary(self) -> str:
        text = f"profile {self.profile.id}: {self.profile.gain()}"
        if self.applied:
            text += "; sets " + ", ".join(f"{k}={_show(v)}" for k, v in self.applied.items())
        if self.pinned:
            text += "; pinned by the recipe: " + ", ".join(self.pinned)
        return text

    def as_dict(self) -> dict[str, Any]:
        m = self.profile.measured
        return {
            "id": self.profile.id,
            "applied": self.applied,
            "pinned": list(self.pinned),
            "gain": {"batch1": round(m.ratio, 4), f"c{m.concurrency}": round(m.cn_ratio, 4)},
            "measured": m.model_dump(mode="json"),
        }


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value).lower()


def choose_profile(recipe: Recipe, key: ProfileKey, profiles: tuple[Profile, ...]) -> Profile | None:
    """The profile `engine.profile` asks for in this situation (pure). An id that does not match is refused."""
    wanted = recipe.engine.profile
    if wanted == "none":
        return None
    if wanted == "auto":
        fitting = [p for p in profiles if matches(p, key) and p.measured.greedy_outputs_match]
        return max(fitting, key=lambda p: p.measured.ratio, default=None)
    named = next((p for p in profiles if p.id == wanted), None)
    if named is None:
        known = ", ".join(p.id for p in profiles) or "none in the profiles file"
        raise RecipeError(
            f"engine.profile: no profile named {wanted}", field="engine.profile", hint=f"known: {known}"
        )
    if not matches(named, key):
        raise RecipeError(
            f"profile {wanted} was measured for {_describe(named.match)}, not {key.describe()}",
            field="engine.profile",
            hint="use engine.profile: auto (the matching one, if any) or none",
        )
    return named


def merge_profile(recipe: Recipe, profile: Profile) -> tuple[Recipe, ProfileChoice]:
    """The recipe with the profile's options for every tuning key it leaves unset (pinned keys win)."""
    pinned = tuple(k for k in profile.options if getattr(recipe.engine, k) is not None)
    applied = {k: v for k, v in profile.options.items() if k not in pinned}
    engine = EngineSpec.model_validate({**recipe.engine.model_dump(), **applied})
    return recipe.model_copy(update={"engine": engine}), ProfileChoice(profile, applied, pinned)


def _describe(m: ProfileMatch) -> str:
    return f"{m.gpu}, {m.engine} {m.engine_version}, {m.format.value}, KV {m.kv_cache.value}, {m.shape_class}"


def profiles_path() -> Path | None:
    """The file `DEPLOYCTL_PROFILES` names (read when used: tests set it), else None for the shipped one."""
    value = os.environ.get(PROFILES_ENV)
    return Path(value) if value else None


def load_profiles(path: Path | None = None) -> tuple[Profile, ...]:
    """The profiles file, validated; a bad row is a DeployctlError naming the file, the row and the field."""
    path = path or profiles_path()
    if path is None:
        return _shipped()
    return _parse(path.read_text() if path.is_file() else "profiles: []\n", str(path))


@cache
def _shipped() -> tuple[Profile, ...]:
    text = resources.files("deployctl.data").joinpath("profiles.yaml").read_text()
    return _parse(text, "deployctl/data/profiles.yaml")


def _parse(text: str, where: str) -> tuple[Profile, ...]:
    try:
        data = yaml.safe_load(text) or {}
        return ProfileFile.model_validate(data).profiles
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(map(str, first["loc"]))
        raise DeployctlError(
            f"{where}: {place}: {first['msg']}",
            file=where,
            field=place,
            hint="each profile row needs id, match, options and measured (docs/tune.md)",
        ) from None
    except yaml.YAMLError as exc:
        raise DeployctlError(f"{where} is not valid YAML: {exc}", file=where) from None
