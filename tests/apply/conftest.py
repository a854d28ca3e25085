"""One real deployment shared by the swap tests: `transformers serve` on CPU as a local process.

Every test of a module works on the same DEPLOYCTL_HOME (the root conftest gives each test its own,
which would hide the engine started by an earlier test), so engines are started as rarely as the
scenarios allow. Recipes A (float32) and B (bfloat16) serve the same tiny model with different
specs; C serves a second tiny model (another seed). Faults are real: a bad engine flag, a health
deadline too short for the engine, and the stdlib fake engine (tests/serve/fake_engine.py) standing
in for the engine's interpreter when a smoke test must fail after a healthy start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.launch_helpers import FAKE_ENGINE, free_port, tiny_model_dir

CLI = (sys.executable, "-c", "from deployctl.cli.main import main; main()")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apply-home")


@pytest.fixture(autouse=True)
def _isolated_home(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Overrides the root conftest's per-test home with the module's (still isolated from the user)."""
    monkeypatch.setenv("DEPLOYCTL_HOME", str(shared_home))
    monkeypatch.delenv("DEPLOYCTL_CACHE", raising=False)
    monkeypatch.delenv("DEPLOYCTL_TEST_PAUSE_AT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return shared_home


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny models with different weights (seeds 0 and 1); C is a copy a test may delete."""
    from deployctl.quantize.tiny import generate_tiny_model

    base = tmp_path_factory.getbasetemp()
    seed0 = tiny_model_dir(base)
    seed1 = base / "tiny-qwen3-seed1"
    if not (seed1 / "config.json").exists():
        generate_tiny_model("qwen3", seed1, seed=1)
    copy = tmp_path_factory.mktemp("model-c") / "tiny-qwen3-seed1"
    shutil.copytree(seed1, copy)
    return {"seed0": seed0, "seed1": copy}


@pytest.fixture(scope="module")
def fake_engine_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 'interpreter' that ignores the engine module and serves fake_engine.py in empty-text mode
    on the port it was given: healthy, lists a model, but every completion comes back empty."""
    script = tmp_path_factory.mktemp("fake-python") / "python"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$#" -gt 0 ]; do [ "$1" = "--port" ] && port="$2"; shift; done\n'
        f'exec "{sys.executable}" "{FAKE_ENGINE}" "$port" empty-text\n'
    )
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path], fake_engine_python: Path):
    """Recipe files by name; every one is the deployment `swap` on one port."""
    folder = tmp_path_factory.mktemp("recipes")
    port = free_port()

    def write(key: str, model: Path, *, dtype: str, **changes) -> Path:
        data = {
            "name": "swap",
            "model": {"path": str(model)},
            "gpu": "cpu",
            "engine": {"name": "transformers", "dtype": dtype},
            "runtime": {"kind": "process", "python": sys.executable},
            "serve": {"host": "127.0.0.1", "port": port, "health_timeout_s": 120, "front": "none"},
            "smoke": {"prompt": "Say hello.", "max_tokens": 8},
        }
        return write_recipe(folder / f"{key}.yaml", data, changes)

    seed0 = models["seed0"]
    return {
        "A": write("A", seed0, dtype="float32"),
        "B": write("B", seed0, dtype="bfloat16"),
        "C": write("C", models["seed1"], dtype="float32"),
        "crashes": write("crashes", seed0, dtype="bfloat16", engine__extra_args=["--no-such-flag"]),
        "never-healthy": write("never-healthy", seed0, dtype="bfloat16", serve__health_timeout_s=2),
        "fails-smoke": write("fails-smoke", seed0, dtype="bfloat16", runtime__python=str(fake_engine_python)),
        "port": port,
    }


def write_recipe(path: Path, data: dict, changes: dict) -> Path:
    """`data` with `section__leaf=value` changes applied, written as YAML at `path`."""
    for dotted, value in changes.items():
        section, leaf = dotted.split("__")
        data[section][leaf] = value
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )


@pytest.fixture(scope="module")
def deployment(recipes, shared_home: Path) -> Iterator[str]:
    """The deployment, destroyed at the end; fails the module if an engine process outlives it."""
    from tests.apply.checks import engine_pids

    yield "swap"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEPLOYCTL_HOME", str(shared_home))
        from deployctl.deployments import destroy_deployment

        destroy_deployment("swap")
    assert engine_pids(recipes["port"]) == [], "an engine process outlived `destroy`"
