"""Verdicts for the engine version that will run: a process-runtime interpreter whose environment has
vLLM 0.24.0 is judged as 0.24.0 (measured failures become refusals), the pinned image as 0.33.0.

The fake interpreter is a real venv (`python -m venv --without-pip`) holding nothing but a
`vllm-0.24.0.dist-info`: deployctl asks it through importlib.metadata, as it asks a real one.
"""

from __future__ import annotations

import json
import sys
import venv
from pathlib import Path

import pytest
import yaml

from deployctl.engine_version import version_matches
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def vllm_024_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv-vllm-0.24.0")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    site = next(root.glob("lib/python*/site-packages"))
    dist = site / "vllm-0.24.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm\nVersion: 0.24.0\n")
    return root / "bin" / "python"


def recipe(tmp_path: Path, *, gpu: str, kv: str = "none", python: Path | None = None, **quantization) -> Path:
    runtime = {"kind": "process", "python": str(python)} if python else {"kind": "docker"}
    document = {
        "name": "judged",
        "model": {"generate": "tiny-qwen3"},
        "gpu": gpu,
        "engine": {"name": "vllm"},
        "quantization": {"format": "fp8", "kv_cache": kv, **quantization},
        "runtime": runtime,
        "serve": {"host": "127.0.0.1"},
    }
    path = tmp_path / f"{gpu.replace(' ', '-')}-{kv}-{'process' if python else 'docker'}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("gpu", "kv", "reason"),
    [
        pytest.param(
            "H100 SXM",
            "fp8",
            "KVCacheScaleParameter.weight_loader()",
            id="fp8 with an fp8 KV cache on Qwen3 is refused",
        ),
        pytest.param("A100 80GB", "none", "Minimum capability: 89", id="fp8 on an A100 is refused"),
    ],
)
def test_vllm_024_in_the_process_runtime_refuses_what_it_cannot_load(
    tmp_path: Path, vllm_024_python: Path, gpu: str, kv: str, reason: str
) -> None:
    result = run_cli("validate", str(recipe(tmp_path, gpu=gpu, kv=kv, python=vllm_024_python)))
    assert result.exit_code == 1, result.output
    assert reason in result.stderr
    assert f"judged for vllm 0.24.0 (vllm installed for runtime.python {vllm_024_python})" in result.stderr


@pytest.mark.parametrize(
    ("gpu", "kv"), [("H100 SXM", "fp8"), ("A100 80GB", "none")], ids=["Qwen3 fp8 + fp8 KV", "fp8 on A100"]
)
def test_the_pinned_image_accepts_both(tmp_path: Path, gpu: str, kv: str) -> None:
    result = run_cli("--json", "validate", str(recipe(tmp_path, gpu=gpu, kv=kv)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["engine_version"]["version"] == "0.33.0"
    assert "pinned image docker.io/vllm/vllm-openai:v0.33.0" in result.stderr


def test_fixed_kv_scales_are_accepted_on_vllm_024(tmp_path: Path, vllm_024_python: Path) -> None:
    path = recipe(tmp_path, gpu="H100 SXM", kv="fp8", python=vllm_024_python, kv_cache_scales="fixed")
    result = run_cli("validate", str(path))
    assert result.exit_code == 0, result.output


def test_an_overriding_image_is_judged_by_its_tag(tmp_path: Path) -> None:
    path = recipe(tmp_path, gpu="A100 80GB")
    document = yaml.safe_load(path.read_text())
    document["engine"]["image"] = "docker.io/vllm/vllm-openai:v0.24.0"
    path.write_text(yaml.safe_dump(document))
    result = run_cli("validate", str(path))
    assert result.exit_code == 1 and "Minimum capability: 89" in result.stderr
    assert "judged for vllm 0.24.0 (tag of image docker.io/vllm/vllm-openai:v0.24.0)" in result.stderr


def test_an_interpreter_without_the_engine_is_judged_as_pinned_with_a_warning(tmp_path: Path) -> None:
    path = recipe(tmp_path, gpu="A100 80GB", python=Path(sys.executable))
    result = run_cli("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "version of runtime.python" in result.stderr and "judged as the pinned 0.33.0" in result.stderr


def test_the_probe_is_cached_until_the_environment_changes(tmp_path: Path, vllm_024_python: Path) -> None:
    from deployctl.recipe.load import load_recipe
    from deployctl.runtimes.engine_version import version_that_will_run

    loaded = load_recipe(recipe(tmp_path, gpu="H100 SXM", python=vllm_024_python))
    assert version_that_will_run(loaded).version == "0.24.0"
    site = next(vllm_024_python.parent.parent.glob("lib/python*/site-packages"))
    dist = site / "vllm-0.24.0.dist-info"
    newer = site / "vllm-0.33.0.dist-info"
    dist.rename(newer)  # an upgrade: the folder's modification time changes
    (newer / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm\nVersion: 0.33.0\n")
    try:
        assert version_that_will_run(loaded).version == "0.33.0"
    finally:
        newer.rename(dist)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm\nVersion: 0.24.0\n")


@pytest.mark.parametrize(
    ("version", "spec", "inside"),
    [
        ("0.24.0", "<0.33", True),
        ("0.33.0", "<0.33", False),
        ("0.33.0rc2", ">=0.33", False),
        ("0.33.1+cu130", ">=0.33,<0.34", True),
        ("1.3.0rc24", ">=1.2", True),
        (None, "<0.33", False),
        (None, None, True),
    ],
)
def test_version_ranges(version: str | None, spec: str | None, inside: bool) -> None:
    assert version_matches(version, spec) is inside


def test_int8_sq_is_calibrate_only_everywhere() -> None:
    result = run_cli("--json", "capabilities", "--format", "int8_sq", "--kv", "none")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows and {row["level"] for row in rows} == {"rejected"}
    gpu_rows = [r for r in rows if r["engine"] in ("vllm", "trtllm") and r["gpu"] not in ("cpu", "T4")]
    assert all(any("calibrate-only" in f["reason"] for f in r["findings"]) for r in gpu_rows)
