"""Engine facts as data: one row per engine in `data/engines.yaml`, validated here when loaded.

Code reads the row instead of branching on the engine's name: the pinned image, the health and
readiness paths, the memory allowance and how the engine sizes itself (capability/memory.py), whether
two engines fit side by side (capability/swap_strategy.py), multi-node and Dynamo support (render/).
Each rule is a named choice among the few the code knows; a new engine picks one or states a refusal.

Built-in rows come from the data file; `register_facts` adds one at run time (an engine registered
by `deployctl.engines.registry.register_engine`). An unknown name is an error listing the valid ones.
Pure: it imports only `errors` and `strict`, so the recipe model can validate engine names here.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, model_validator

from deployctl.errors import UsageError
from deployctl.strict import StrictModel

GIB = 1024**3


class Refusal(StrictModel):
    """Why an engine cannot do something, with the fix and the source (rendered as CapabilityRejected)."""

    reason: str = Field(..., min_length=8)
    fix: str
    source: str = Field(..., min_length=8)
    field: str = "engine.name"


class MemoryRule(StrictModel):
    overhead_gib: float = Field(..., gt=0, description="activations, CUDA graphs, context: an allowance")
    share: Literal["gpu-share", "free-after-weights", "whole-gpu"]
    default_share: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _share_needs_a_default(self) -> MemoryRule:
        if self.share != "whole-gpu" and self.default_share is None:
            raise ValueError(f"memory.share {self.share} needs default_share (the engine's own default)")
        return self

    @property
    def overhead_bytes(self) -> int:
        return int(self.overhead_gib * GIB)


class DynamoWorker(StrictModel):
    """How NVIDIA Dynamo runs this engine: its runtime image, `python3 -m <module>`, the component name,
    and which worker command line render/dynamo.py builds (`args`)."""

    image: str
    module: str
    worker: str
    args: Literal["vllm", "trtllm"]
    passes_extra_args: bool = Field(..., description="the worker's parser takes the server's own flags")
    backend_version: str


class EngineFacts(StrictModel):
    """One row of data/engines.yaml (see the file's header for the meaning of each rule)."""

    name: str
    module: str | None = Field(
        None, description="the module exporting ENGINE (deployctl.engines.vllm); None: registered at run time"
    )
    display_name: str = Field(..., description="how messages name it: vLLM, TensorRT-LLM")
    image: str
    version: str
    source: str
    flags_checked_against: str
    health_path: str
    readiness_path: str = "/v1/models"
    default_port: int = Field(8000, ge=1, le=65535, description="the port inside a bridge container")
    cpu_image: str | None = None
    development_engine: bool = False
    memory: MemoryRule
    two_engines: Literal["shares-add-up", "remainder", "each-needs"]
    multinode: Literal["ray-lws"] | Refusal | None = None
    dynamo: DynamoWorker | Refusal | None = None

    @model_validator(mode="after")
    def _gpu_engines_state_kubernetes_support(self) -> EngineFacts:
        if not self.development_engine and (self.multinode is None or self.dynamo is None):
            raise ValueError(
                f"engine {self.name}: state multinode and dynamo (support or a refusal with reason, fix, source)"
            )
        return self


_REGISTERED: dict[str, EngineFacts] = {}


@cache
def _builtin() -> dict[str, EngineFacts]:
    text = resources.files("deployctl.data").joinpath("engines.yaml").read_text()
    return {
        name: EngineFacts.model_validate({"name": name, **row}) for name, row in yaml.safe_load(text).items()
    }


def engine_rows() -> dict[str, EngineFacts]:
    """Every known engine's row, built-ins first."""
    return {**_builtin(), **_REGISTERED}


def engine_names() -> tuple[str, ...]:
    return tuple(engine_rows())


def engine_facts(name: str) -> EngineFacts:
    """The row for `name`; an unknown name is a `UsageError` listing the valid ones."""
    rows = engine_rows()
    if name not in rows:
        raise UsageError(
            f"unknown engine {name!r}", hint=f"known engines: {', '.join(rows)}", field="engine.name"
        )
    return rows[name]


def register_facts(row: EngineFacts) -> None:
    """Add (or replace) an engine's row at run time; `engines.registry.register_engine` calls this."""
    _REGISTERED[row.name] = row


def unregister_facts(name: str) -> None:
    _REGISTERED.pop(name, None)
