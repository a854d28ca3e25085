"""`deployctl plan` never quantizes, downloads or generates: it plans from what is on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl import settings
from deployctl.apply import plan_recipe
from deployctl.observe import World
from deployctl.plan import Observed, OperationKind
from deployctl.quantize.lookup import find_checkpoint
from deployctl.recipe.load import parse_recipe_dict
from tests.launch_helpers import tiny_model_dir


def recipe(model: dict, quantization: str = "none"):
    return parse_recipe_dict(
        {
            "name": "look",
            "model": model,
            "gpu": "cpu",
            "quantization": quantization,
            "engine": "vllm",
            "runtime": "process",
        }
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory.getbasetemp())


CASES = [
    (
        "a format never exported here is a quantize step",
        "local",
        "fp8",
        OperationKind.QUANTIZE,
        "time unknown",
    ),
    (
        "a tiny model not generated yet is a fetch step",
        "generate",
        "none",
        OperationKind.FETCH_MODEL,
        "generate tiny-llama",
    ),
    (
        "a hub model missing from the local cache is a fetch step",
        "hub",
        "none",
        OperationKind.FETCH_MODEL,
        "download",
    ),
    ("a local base model is reused as it is", "local", "none", OperationKind.REUSE_CHECKPOINT, "base model"),
]


@pytest.mark.parametrize(("source", "fmt", "kind", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_finds_checkpoints_without_making_them(tiny: Path, source, fmt, kind, says) -> None:
    model = {
        "local": {"path": str(tiny)},
        "generate": {"generate": "tiny-llama"},
        "hub": {"id": "nobody/not-cached"},
    }
    wanted = recipe(model[source], fmt)
    before = sorted(p.name for p in settings.cache_dir().rglob("*")) if settings.cache_dir().exists() else []

    result = plan_recipe(wanted, World(runtime=None, previous=None, handles={}, observed=Observed()))

    first = result.plan.operations[0]
    assert first.kind is kind and says in first.cause, str(result.plan)
    after = sorted(p.name for p in settings.cache_dir().rglob("*")) if settings.cache_dir().exists() else []
    assert after == before, "planning wrote to the cache"
    assert (find_checkpoint(wanted) is not None) is (kind is OperationKind.REUSE_CHECKPOINT)
