"""Compose files come from the same LaunchSpec `apply` uses, are valid Compose, and carry no secrets."""

from __future__ import annotations

import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import yaml

from deployctl.recipe.load import parse_recipe_dict
from deployctl.render.compose import render_recipe_compose
from deployctl.render.from_recipe import render_input
from deployctl.render.pod import describe_pod, health_probe
from tests.launch_helpers import free_port
from tests.render.conftest import (
    COMPOSE_DIR,
    RECIPES,
    REFRESH_COMMAND,
    compose_validator,
    relative,
    rendered,
    rendered_text,
    service,
)

RECIPE_IDS = [recipe.stem for recipe in RECIPES]


def _recipe(**overrides) -> dict:
    base = {"name": "demo", "model": "Qwen/Qwen3-0.6B", "gpu": "H100 SXM", "engine": "vllm"}
    return {**base, **overrides}


def _render(data: dict, *, portable: bool = True) -> str:
    return render_recipe_compose(parse_recipe_dict(data), recipe_path="recipes/demo.yaml", portable=portable)


@pytest.mark.parametrize("recipe", RECIPES, ids=RECIPE_IDS)
def test_every_example_renders_a_valid_compose_file(recipe) -> None:
    errors = sorted(compose_validator().iter_errors(rendered(relative(recipe))), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("recipe", RECIPES, ids=RECIPE_IDS)
def test_committed_compose_files_are_up_to_date(recipe) -> None:
    committed = COMPOSE_DIR / recipe.name
    expected = rendered_text(relative(recipe))
    assert committed.is_file(), f"{committed} is missing; refresh with: {REFRESH_COMMAND}"
    assert committed.read_text() == expected, f"{committed} is stale; refresh with: {REFRESH_COMMAND}"


def test_no_compose_file_is_left_without_its_recipe() -> None:
    orphans = {p.name for p in COMPOSE_DIR.glob("*.yaml")} - {r.name for r in RECIPES}
    assert not orphans, f"compose files without a recipe: {sorted(orphans)}; delete them"


@pytest.mark.parametrize("recipe", RECIPES, ids=RECIPE_IDS)
def test_the_service_runs_the_launch_specs_command_exactly(recipe) -> None:
    from deployctl.recipe.load import load_recipe
    from deployctl.render.compose import ENGINE_CACHE_VOLUME, HF_CACHE_SOURCE

    spec = render_input(
        load_recipe(recipe), hf_cache=HF_CACHE_SOURCE, engine_cache=ENGINE_CACHE_VOLUME, portable=True
    ).spec
    svc = service(relative(recipe))
    assert svc["image"] == spec.image
    assert svc["command"] == list(spec.args)
    if spec.image.startswith("localhost/deployctl/"):
        assert svc["entrypoint"] == ["python3", "-m", *spec.python_module]
    else:
        assert svc["entrypoint"] == list(spec.program)
    assert svc["labels"]["deployctl.spec-hash"] == spec.spec_hash()
    assert svc["labels"]["deployctl.managed"] == "true"


@pytest.mark.parametrize(
    ("recipe", "gpus", "ipc", "shm"),
    [
        pytest.param(
            "qwen3-32b-h100x2-fp8", 2, "host", None, id="tensor parallel 2 reserves two GPUs and shares IPC"
        ),
        pytest.param(
            "qwen3-8b-h100-fp8", 1, None, "8g", id="one vLLM GPU gets a private shm of the recipe's size"
        ),
        pytest.param("llama3.1-8b-h100-trtllm", 1, "host", None, id="TensorRT-LLM always runs with IPC host"),
        pytest.param("tiny-vllm-cpu", 0, None, "1g", id="vLLM on CPU reserves no GPU"),
        pytest.param("quickstart-cpu", 0, None, None, id="transformers on CPU needs neither GPU nor shm"),
    ],
)
def test_gpus_and_shared_memory(recipe, gpus, ipc, shm) -> None:
    svc = service(f"recipes/{recipe}.yaml")
    devices = svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    assert devices == ([{"driver": "nvidia", "count": gpus, "capabilities": ["gpu"]}] if gpus else [])
    assert svc.get("ipc") == ipc
    assert svc.get("shm_size") == shm


def test_a_loopback_recipe_publishes_on_loopback_while_the_engine_listens_in_its_container() -> None:
    svc = service("recipes/quickstart-cpu.yaml")
    assert svc["ports"] == ["${DEPLOYCTL_HOST_IP:-127.0.0.1}:${DEPLOYCTL_PORT:-8000}:8000"]
    host_arg = svc["command"][svc["command"].index("--host") + 1]
    assert host_arg == "0.0.0.0"


def test_the_api_key_is_a_reference_to_the_operators_variable(monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY_VAR", "sk-live-0123456789abcdefghij")
    monkeypatch.setenv(
        "HF_TOKEN", "hf_" + "abcdefghijklmnopqrstuvwxyz0123"
    )  # a fake token, split so scanners skip it
    text = _render(_recipe(serve={"api_key_env": "MY_KEY_VAR"}))
    env = yaml.safe_load(text)["services"]["demo"]["environment"]
    assert env["VLLM_API_KEY"].startswith("${MY_KEY_VAR:?")
    assert "sk-live" not in text and "hf_abcdef" not in text


def test_passthrough_variables_are_copied_only_when_set() -> None:
    env = yaml.safe_load(_render(_recipe(gpu={"type": "H100 SXM", "count": 2})))["services"]["demo"][
        "environment"
    ]
    for name in ("HF_TOKEN", "HF_ENDPOINT", "NCCL_NVLS_ENABLE"):
        assert name in env and env[name] is None


def test_a_literal_dollar_is_escaped_so_compose_does_not_interpolate_it() -> None:
    svc = yaml.safe_load(
        _render(_recipe(engine={"name": "vllm", "extra_args": ["--chat-template", "$HOME/t.jinja"]}))
    )
    assert svc["services"]["demo"]["command"][-1] == "$$HOME/t.jinja"


def test_an_uncached_checkpoint_is_a_required_variable_naming_the_command_that_makes_it() -> None:
    volume = service("recipes/qwen3-8b-h100-fp8.yaml")["volumes"][0]
    assert volume["source"].startswith("${DEPLOYCTL_CHECKPOINT:?")
    assert "deployctl quantize recipes/qwen3-8b-h100-fp8.yaml" in volume["source"]
    assert (volume["read_only"], volume["bind"]["create_host_path"]) == (True, False)


def test_a_local_model_folder_is_the_default_checkpoint(tmp_path) -> None:
    header = b'{"__metadata__":{}}'
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    svc = yaml.safe_load(_render(_recipe(model=str(tmp_path)), portable=False))["services"]["demo"]
    assert svc["volumes"][0]["source"] == f"${{DEPLOYCTL_CHECKPOINT:-{tmp_path.resolve()}}}"


def test_trtllm_options_travel_inline_as_a_compose_config() -> None:
    document = rendered("recipes/llama3.1-8b-h100-trtllm.yaml")
    svc = document["services"][document["name"]]
    (config,) = svc["configs"]
    target = svc["command"][svc["command"].index("--extra_llm_api_options") + 1]
    assert config["target"] == target
    assert yaml.safe_load(document["configs"][config["source"]]["content"]) == {
        "kv_cache_config": {"dtype": "fp8", "free_gpu_memory_fraction": 0.85}
    }


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    "serving",
    [True, False],
    ids=["the probe passes on a healthy server", "the probe fails when nothing listens"],
)
def test_the_health_probe_command_tells_healthy_from_down(serving: bool) -> None:
    from deployctl.recipe.load import parse_recipe_dict as parse

    port = free_port()
    recipe = parse(
        _recipe(gpu="cpu", engine="transformers", runtime={"network": "host"}, serve={"port": port})
    )
    spec = render_input(recipe, hf_cache="/tmp/hf", engine_cache="cache", portable=True).spec
    probe = health_probe(spec)
    server = ThreadingHTTPServer(("127.0.0.1", port), _Health) if serving else None
    if server:
        Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run([sys.executable, *probe.command[1:]], capture_output=True, timeout=30)
    finally:
        if server:
            server.shutdown()
    assert (done.returncode == 0) is serving
    assert probe.url == f"http://127.0.0.1:{port}/health"


def test_the_pod_description_keeps_secrets_as_names() -> None:
    recipe = parse_recipe_dict(_recipe(serve={"api_key_env": "OPS_KEY"}))
    spec = render_input(recipe, hf_cache="/hf", engine_cache="cache", portable=True).spec
    pod = describe_pod(spec)
    assert pod.secret_env == {"VLLM_API_KEY": "OPS_KEY"}
    assert "OPS_KEY" not in pod.env.values()


def test_the_published_endpoint_label_matches_the_published_address() -> None:
    svc = service("recipes/quickstart-cpu.yaml")
    assert svc["labels"]["deployctl.endpoint"] == "http://127.0.0.1:8000"
