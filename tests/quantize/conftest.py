"""Fixtures for the quantize tests: tiny models generated once, and one quantization per (arch, format).

Quantizing is the slow part (Model Optimizer imports in ~12 s, AWQ calibrates in ~9 s on 2 cores), so
each (arch, format) is quantized once per session into a session cache and shared by the tests
that inspect its output. Calibration is small (8 samples × 64 tokens) to keep the suite fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import Recipe

SMALL_CALIBRATION = {"samples": 8, "seq_len": 64, "batch_size": 4}


def make_recipe(model: Any, fmt: str = "fp8", kv: str = "none", **quantization: Any) -> Recipe:
    """A recipe the capability judge accepts (vLLM on a named H100), quantizing `model`."""
    spec = {"format": fmt, "kv_cache": kv, "calibration": dict(SMALL_CALIBRATION), **quantization}
    return parse_recipe_dict(
        {"name": "tiny", "model": model, "gpu": "H100 SXM", "engine": "vllm", "quantization": spec}
    )


@contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for a block, from session fixtures (monkeypatch is per test)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tiny-qwen3 and tiny-llama base models, generated once."""
    from deployctl.quantize.tiny import generate_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: generate_tiny_model(arch, root / arch) for arch in ("qwen3", "llama")}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quantize-cache")


@pytest.fixture(scope="session")
def quantized(tiny_models: dict[str, Path], session_cache: Path) -> Callable[..., Any]:
    """quantized(arch, fmt, kv="none") -> Prepared, computed once per session."""
    from deployctl.quantize.pipeline import prepare

    done: dict[tuple[str, str, str], Any] = {}

    def get(arch: str, fmt: str, kv: str = "none") -> Any:
        if (arch, fmt, kv) not in done:
            with env(DEPLOYCTL_CACHE=str(session_cache), HF_HUB_OFFLINE="1"):
                done[(arch, fmt, kv)] = prepare(make_recipe(str(tiny_models[arch]), fmt, kv), progress=False)
        return done[(arch, fmt, kv)]

    return get
