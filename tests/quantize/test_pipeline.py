"""prepare_checkpoint end to end with real Model Optimizer: cache hits, crashes, races, bad inputs, gates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from deployctl import settings
from deployctl.errors import ModelSourceError, QualityGateFailed, QuantizeError
from deployctl.quantize import cache
from deployctl.quantize.pipeline import prepare, prepare_checkpoint
from tests.cli_helpers import run_cli
from tests.quantize.conftest import SMALL_CALIBRATION, env, make_recipe

pytestmark = [pytest.mark.integration, pytest.mark.quantize]

PREPARE_SCRIPT = """
import json, sys, time
from deployctl.recipe.load import load_recipe
from deployctl.quantize.pipeline import prepare
started = time.perf_counter()
p = prepare(load_recipe(sys.argv[1]), progress=False, on_step=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps({"hit": p.cache_hit, "key": p.checkpoint.key, "seconds": time.perf_counter() - started,
                  "torch_imported": "torch" in sys.modules}))
"""


def write_recipe(
    folder: Path, model: Path, fmt: str, engine: str = "vllm", calibration: dict | None = None
) -> Path:
    recipe = {
        "name": "tiny",
        "model": {"path": str(model)},
        "gpu": "H100 SXM",
        "engine": engine,
        "quantization": {"format": fmt, "calibration": calibration or SMALL_CALIBRATION},
    }
    path = folder / f"{fmt}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_prepare(recipe: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PREPARE_SCRIPT, str(recipe)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_cache_hit_is_fast_and_imports_no_torch(quantized, tiny_models, session_cache, tmp_path):
    quantized("qwen3", "fp8", "fp8")  # fills the session cache
    recipe = make_recipe(str(tiny_models["qwen3"]), "fp8", "fp8")
    with env(DEPLOYCTL_CACHE=str(session_cache)):
        started = time.perf_counter()
        again = prepare(recipe, progress=False)
        in_process = time.perf_counter() - started
        path = write_recipe(tmp_path, tiny_models["qwen3"], "fp8")
        text = yaml.safe_load(path.read_text())
        text["quantization"]["kv_cache"] = "fp8"
        path.write_text(yaml.safe_dump(text))
        fresh = run_prepare(path)
    assert again.cache_hit and in_process < 1.0
    assert fresh["hit"] and fresh["seconds"] < 1.0 and not fresh["torch_imported"]
    assert fresh["key"] == again.checkpoint.key


def test_a_run_killed_mid_calibration_leaves_nothing_usable_and_the_next_run_succeeds(tiny_models, tmp_path):
    # Enough calibration that the AWQ search cannot finish in the half second before the kill, even on an
    # idle machine (with the small set it sometimes published before being killed).
    recipe = write_recipe(
        tmp_path, tiny_models["llama"], "w4a16_awq", engine="trtllm",
        calibration={"samples": 64, "seq_len": 256, "batch_size": 4},
    )  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", PREPARE_SCRIPT, str(recipe)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in child.stderr:  # bounded: the child prints a handful of lines before calibrating
            if line.startswith("calibrating"):
                break
        time.sleep(0.5)  # the AWQ search takes several seconds here: kill it in the middle
        assert child.poll() is None, "calibration finished before it could be interrupted"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    leftovers = list(settings.cache_dir().glob(".tmp-*"))
    assert leftovers, "the killed run should have left its work folder"
    from deployctl.recipe.load import load_recipe

    prepared = prepare(load_recipe(recipe), progress=False)
    assert not prepared.cache_hit and prepared.manifest.quant_algo == "W4A16_AWQ"
    assert not any(p.exists() for p in leftovers)
    assert [e.key for e in cache.list_entries()] == [prepared.checkpoint.key]


def test_two_processes_on_one_key_quantize_once(tiny_models, tmp_path):
    recipe = write_recipe(tmp_path, tiny_models["llama"], "fp8")
    command = [sys.executable, "-m", "deployctl", "--json", "quantize", str(recipe), "--no-progress"]
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    results = []
    for child in children:
        stdout, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout))
    assert sorted(r["cache_hit"] for r in results) == [False, True]
    assert results[0]["checkpoint"]["key"] == results[1]["checkpoint"]["key"]
    assert len(cache.list_entries()) == 1


def test_format_none_serves_the_base_model_untouched(tiny_models):
    checkpoint = prepare_checkpoint(make_recipe(str(tiny_models["qwen3"]), "none"), progress=False)
    assert checkpoint.path == tiny_models["qwen3"].resolve()
    assert not checkpoint.is_quantized and checkpoint.key.startswith("local:")
    assert cache.list_entries() == []


def test_a_failed_quality_gate_refuses_but_keeps_the_checkpoint(quantized, tiny_models, session_cache):
    quantized("qwen3", "fp8", "fp8")
    recipe = make_recipe(str(tiny_models["qwen3"]), "fp8", "fp8", quality={"min_top1_agreement": 0.99999})
    with env(DEPLOYCTL_CACHE=str(session_cache)), pytest.raises(QualityGateFailed) as info:
        prepare(recipe, progress=False)
    assert "nothing was served" in info.value.message
    assert any("stays cached" in line for line in info.value.details)
    assert (
        cache.list_entries() == []
    )  # this test's own cache stays empty: the hit came from the session cache
    with env(DEPLOYCTL_CACHE=str(session_cache)):
        assert any(e.manifest and e.manifest.format == "fp8" for e in cache.list_entries())


def test_an_architecture_that_is_not_a_causal_lm_is_refused_cleanly(tmp_path):
    folder = tmp_path / "t5"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]})
    )
    (folder / "model.safetensors").write_bytes(b"\x02\0\0\0\0\0\0\0{}")
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(QuantizeError, match="causal LM"):
        prepare(make_recipe(str(folder), "fp8"), progress=False)
    assert list(settings.cache_dir().glob(".tmp-*")) == []
    assert cache.list_entries() == []


def test_a_folder_that_is_not_a_model_is_refused_before_any_work(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelSourceError, match="config.json is missing"):
        prepare(make_recipe(str(tmp_path), "fp8"), progress=False)


def test_the_cli_prints_the_quality_table_and_the_checkpoint_path(
    quantized, tiny_models, session_cache, tmp_path
):
    quantized("llama", "fp8_pc_pt")
    path = write_recipe(tmp_path, tiny_models["llama"], "fp8_pc_pt")
    with env(DEPLOYCTL_CACHE=str(session_cache)):
        human = run_cli("quantize", str(path))
        machine = run_cli("--json", "quantize", str(path))
    assert human.exit_code == 0, human.output
    assert "PPL(Q)" in human.stdout and "Same top p" in human.stdout  # llama.cpp-style names
    assert str(session_cache) in human.stdout and "cache hit" in human.stderr
    data = json.loads(machine.stdout)
    assert data["cache_hit"] and data["manifest"]["quant_algo"] == "FP8_PER_CHANNEL_PER_TOKEN"


def test_the_cli_refuses_a_recipe_the_capability_table_rejects(tiny_models, tmp_path):
    path = write_recipe(tmp_path, tiny_models["llama"], "nvfp4", engine="trtllm")
    text = yaml.safe_load(path.read_text())
    text["gpu"] = "A100 80GB"  # TensorRT-LLM has no NVFP4 path on Ampere
    path.write_text(yaml.safe_dump(text))
    result = run_cli("quantize", str(path))
    assert result.exit_code == 1, result.output
    assert "nvfp4" in result.stderr.lower()
    assert cache.list_entries() == []


def test_cache_ls_rm_and_gc_from_the_cli(quantized, session_cache, tmp_path):
    quantized("qwen3", "fp8", "fp8")
    with env(DEPLOYCTL_CACHE=str(tmp_path)):
        os.system(f"cp -r {session_cache}/* {tmp_path}/")
        (tmp_path / ".tmp-0123456789abcdef01234567-x").mkdir()
        listing = json.loads(run_cli("--json", "cache", "ls").stdout)
        ok = [row for row in listing if row["state"] == "ok"]
        assert ok and all(row["format"] != "-" for row in ok)
        assert json.loads(run_cli("--json", "cache", "gc").stdout)["removed"] == [
            ".tmp-0123456789abcdef01234567-x"
        ]
        removed = run_cli("cache", "rm", ok[0]["key"][:12])
        assert removed.exit_code == 0, removed.output
        assert ok[0]["key"] not in run_cli("--json", "cache", "ls").stdout
