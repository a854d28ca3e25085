"""The task gate for real: the trained tiny model on vLLM-CPU (process runtime), lm-eval through its endpoint.

One deployment (`gate`) lives through the module, and the tests run in file order:
0. the first apply loads the checkpoint's weights into vLLM and passes the smoke test (usage counts);
1. `deployctl eval gate` runs lm-eval's local-completions on the shipped tasks through the endpoint:
   the trained model scores far above chance, and the scores are kept as the checkpoint's baseline;
2. a swap to a damaged copy of the weights (noise at the weights' own scale) is refused by the gate,
   with the table printed, and the old engine serves again;
3. a swap to an equivalent copy (noise below bf16 resolution: a different checkpoint, the same model)
   passes the gate, using the kept baseline, and is what serves afterwards.
vLLM-CPU cannot load Model Optimizer checkpoints, so the swaps change the base model's weights; the
gate sees a checkpoint change either way. Cost: 4 engine starts (~35 s each) and 3 evaluations.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deployctl.recipe.model import RuntimeKind
from deployctl.runtimes.registry import get_runtime
from deployctl.state import StateStore
from tests.cli_helpers import run_cli
from tests.launch_helpers import VLLM_CPU_TEST_ENV, free_port

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

NAME = "gate"
QUALITY = {"tasks": ["deployctl_cloze", "deployctl_next_word"], "limit": 40, "max_task_drop": 0.05}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate-home")


@pytest.fixture(autouse=True)
def _module_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One DEPLOYCTL_HOME for the module: state and kept scores carry from one test to the next."""
    monkeypatch.setenv("DEPLOYCTL_HOME", str(home))


@pytest.fixture(scope="module")
def recipes(trained, vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tests.quality.damage import perturbed_copy

    root = tmp_path_factory.mktemp("gate-models")
    serving = trained("qwen3")
    models = {
        "serving": serving,
        "damaged": perturbed_copy(serving, root / "damaged", relative_noise=1.0),
        "equivalent": perturbed_copy(serving, root / "equivalent", relative_noise=0.002),
    }
    port = free_port()
    files = {}
    for key, model in models.items():
        recipe = {
            "name": NAME,
            "model": {"path": str(model)},
            "gpu": "cpu",
            "engine": {"name": "vllm", "max_model_len": 512, "env": VLLM_CPU_TEST_ENV},
            "runtime": {"kind": "process", "python": str(vllm_python)},
            "serve": {"host": "127.0.0.1", "port": port, "health_timeout_s": 300, "front": "none"},
            "smoke": {"max_tokens": 8, "timeout_s": 120},
            "quality": QUALITY,
        }
        files[key] = root / f"{key}.yaml"
        files[key].write_text(yaml.safe_dump(recipe))
    return {"files": files, "models": models, "port": port}


@pytest.fixture(scope="module")
def served(recipes, home: Path) -> Iterator[dict]:
    """The first apply's --json result; the deployment is destroyed at the end of the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEPLOYCTL_HOME", str(home))
        applied = run_cli("--json", "apply", str(recipes["files"]["serving"]))
        assert applied.exit_code == 0, applied.stderr[-4000:]
        try:
            yield json.loads(applied.stdout)
        finally:
            run_cli("destroy", NAME)
            assert get_runtime(RuntimeKind.PROCESS).find(NAME) == []
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", recipes["port"])) != 0, "the engine outlived destroy"


@pytest.fixture(scope="module")
def deployment(served: dict) -> str:
    return NAME


def served_model_path() -> str:
    return StateStore().load(NAME).checkpoint_path


def answers(port: int) -> bool:
    from openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", timeout=60, max_retries=0)
    done = client.completions.create(model=NAME, prompt="The kettle clicked off", max_tokens=4)
    return done.usage.completion_tokens >= 1


def test_apply_serves_the_checkpoints_weights_and_passes_the_smoke_test(served: dict, recipes) -> None:
    """vLLM loading a checkpoint's weights (tests/engines/test_vllm_cpu_e2e.py serves dummy ones)."""
    assert served["endpoint"] == f"http://127.0.0.1:{recipes['port']}"
    checks = {check["name"]: check for check in served["smoke"]["checks"]}
    assert set(checks) == {"models", "chat", "completion", "stream"}
    for name in ("chat", "completion", "stream"):
        assert 1 <= checks[name]["completion_tokens"] <= 8, checks[name]
        assert checks[name]["prompt_tokens"] >= 1
    assert served["smoke"]["model_listed"], "vLLM lists the served name"
    assert served_model_path() == str(recipes["models"]["serving"])


def test_eval_runs_lm_eval_through_the_endpoint_and_the_trained_model_beats_chance(deployment) -> None:
    done = run_cli("--json", "eval", deployment)
    assert done.exit_code == 0, done.stderr[-4000:]
    results = json.loads(done.stdout)
    scores = {(s["task"], s["metric"], s["filter"]): s for s in results["scores"]}
    cloze = scores[("deployctl_cloze", "acc", "none")]
    assert cloze["samples"] == 40 and 0 < cloze["stderr"] < 0.1
    assert cloze["value"] >= 0.6, "four choices: chance is 0.25; the model learned these sentences"
    assert ("deployctl_next_word", "exact_match", "first_word") in scores
    assert results["checkpoint"] == StateStore().load(NAME).checkpoint_key
    assert "scores kept as the baseline" in done.stderr
    assert "OPENAI_API_KEY" not in done.stdout


def test_a_swap_to_damaged_weights_is_refused_by_the_gate_and_the_old_engine_serves(
    deployment, recipes
) -> None:
    before = served_model_path()
    done = run_cli("apply", str(recipes["files"]["damaged"]))
    assert done.exit_code == 1, done.stderr[-4000:]
    assert "Traceback" not in done.output
    assert "the swap was refused" in done.stderr
    assert "kept scores" in done.stderr, "the baseline comes from `deployctl eval`, not a second run"
    table = [line for line in done.stderr.splitlines() if line.strip().startswith("deployctl_cloze")]
    assert any("regression" in line for line in table), done.stderr[-4000:]
    assert "was restored and serves again" in done.stderr
    assert served_model_path() == before == str(recipes["models"]["serving"])
    assert answers(recipes["port"])


def test_a_swap_to_equivalent_weights_passes_the_gate(deployment, recipes) -> None:
    done = run_cli("apply", str(recipes["files"]["equivalent"]))
    assert done.exit_code == 0, done.stderr[-4000:]
    assert "no task dropped beyond the gate" in done.stderr
    assert served_model_path() == str(recipes["models"]["equivalent"])
    assert answers(recipes["port"])
