"""SGLang's own argument parser checks every `sglang serve` command line deployctl emits.

The engine is not an import of deployctl: the argv of every sglang recipe in `recipes/`, and of one
recipe with every option for each format SGLang serves, is built here, then parsed in one subprocess of
the SGLang parser environment (`DEPLOYCTL_TEST_SGLANG_PYTHON`, tests/images/sglang-venv.sh: PyPI sglang
0.5.23 installed without its CUDA dependencies) by `sglang.srt.server_args.prepare_server_args` — what
`sglang serve` and `python -m sglang.launch_server` run on their arguments before starting anything.
The same subprocess reads the limits the capability table states from SGLang's quantization classes.
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
from deployctl.recipe.model import KvCacheFormat, QuantFormat, RuntimeKind

REPO = Path(__file__).resolve().parents[2]

PARSE_IN_SGLANG = r"""
import json, sys
from sglang.srt.server_args import prepare_server_args

FIELDS = ("model_path", "host", "port", "served_model_name", "quantization", "kv_cache_dtype", "tp_size",
          "context_length", "max_running_requests", "chunked_prefill_size", "mem_fraction_static",
          "disable_prefill_cuda_graph", "disable_decode_cuda_graph", "dtype", "api_key", "load_format")
results = {}
for name, argv in json.load(sys.stdin).items():
    try:
        args = prepare_server_args(argv)
    except SystemExit as exc:
        results[name] = {"error": f"parser exited with {exc.code}"}
        continue
    results[name] = {field: getattr(args, field) for field in FIELDS}
print(json.dumps(results))
"""

# The limits deployctl's capability rows cite, read from the wheel's modelopt_quant.py as source: importing
# that module needs SGLang's CUDA stack (tvm_ffi, transformers, torchvision...), so its AST is read instead.
LIMITS_IN_SGLANG = r"""
import ast, importlib.util, json, pathlib
root = pathlib.Path(importlib.util.find_spec("sglang").origin).parent
tree = ast.parse((root / "srt/layers/quantization/modelopt_quant.py").read_text())
classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

def method(cls, name):
    return next(n for n in classes[cls].body if isinstance(n, ast.FunctionDef) and n.name == name)

def returned(cls, name):
    return [ast.literal_eval(n.value) for n in ast.walk(method(cls, name)) if isinstance(n, ast.Return)]

fp8_from_config = method("ModelOptFp8Config", "from_config")
fp8_only = [
    n for n in ast.walk(fp8_from_config)
    if isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and isinstance(n.test.ops[0], ast.NotEq)
    and isinstance(n.test.comparators[0], ast.Constant) and n.test.comparators[0].value == "FP8"
    and isinstance(n.body[0], ast.Raise)
]
print(json.dumps({"fp8_min": returned("ModelOptFp8Config", "get_min_capability"),
                  "fp4_min": returned("ModelOptFp4Config", "get_min_capability"),
                  "fp8_only_refusal": [ast.unparse(n.body[0]) for n in fp8_only],
                  "names": returned("ModelOptFp8Config", "get_name") + returned("ModelOptFp4Config", "get_name")}))
"""


def _args(recipe_dict_or_path, fmt: QuantFormat | None = None, kv: KvCacheFormat | None = None) -> list[str]:
    recipe = (
        load_recipe(recipe_dict_or_path) if isinstance(recipe_dict_or_path, Path) else recipe_dict_or_path
    )
    checkpoint = Checkpoint(
        path=Path("/models/ckpt"),
        key="k",
        format=fmt or recipe.quantization.format,
        kv_cache=kv or recipe.quantization.kv_cache,
    )
    placement = Placement.for_runtime(RuntimeKind.DOCKER, checkpoint, config_dir="/tmp")
    return list(build_launch_spec(recipe, checkpoint, placement).args)


def sglang_argv_of_every_recipe() -> dict[str, list[str]]:
    """The argv of every sglang recipe in recipes/, plus every option for each format SGLang serves."""
    argvs = {
        path.name: _args(path)
        for path in sorted((REPO / "recipes").glob("*.yaml"))
        if load_recipe(path).engine.name == "sglang"
    }
    every_option = parse_recipe_dict(
        {
            "name": "flags",
            "model": "Qwen/Qwen3-8B",
            "gpu": {"type": "B200", "count": 2},
            "engine": {
                "name": "sglang",
                "max_model_len": 4096,
                "gpu_memory_utilization": 0.85,
                "max_batch_size": 16,
                "max_num_tokens": 8192,
                "enforce_eager": True,
                "dtype": "bfloat16",
            },
            "serve": {"served_name": "qwen"},
        }
    )
    for fmt, kv in [("fp8", "fp8"), ("nvfp4", "nvfp4"), ("none", "none")]:
        argvs[f"every option, {fmt} weights, {kv} KV"] = _args(
            every_option, QuantFormat(fmt), KvCacheFormat(kv)
        )
    dummy = parse_recipe_dict(
        {
            "name": "dummy",
            "model": {"id": "Qwen/Qwen3-8B", "weights": "dummy"},
            "gpu": "H100 SXM",
            "engine": "sglang",
        }
    )
    argvs["dummy weights"] = _args(dummy, QuantFormat.NONE, KvCacheFormat.NONE)
    return argvs


def run_in_sglang(python: Path, script: str, stdin: str = "") -> dict:
    done = subprocess.run([python, "-c", script], input=stdin, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# A flag SGLang does not know: its parser must exit on it, or the check above could not fail.
TYPO = ["--model-path", "/m", "--tp-sise", "2"]


@pytest.fixture(scope="module")
def parsed(sglang_python: Path) -> tuple[dict[str, list[str]], dict]:
    """(argv by case, what SGLang's parser made of each): one subprocess, one import of SGLang."""
    argvs = sglang_argv_of_every_recipe()
    return argvs, run_in_sglang(sglang_python, PARSE_IN_SGLANG, json.dumps({**argvs, "typo": TYPO}))


@pytest.mark.integration
def test_sglang_parses_every_command_line_deployctl_emits(parsed) -> None:
    argvs, results = parsed
    assert len(argvs) >= 5
    for name, argv in argvs.items():
        assert "error" not in results[name], f"{name}: SGLang refused {argv}: {results[name]['error']}"
        assert results[name]["model_path"] == argv[argv.index("--model-path") + 1]
        # SGLang binds 127.0.0.1:30000 unless told: deployctl always says where.
        assert (results[name]["host"], results[name]["port"]) == ("0.0.0.0", 8000), name
        assert results[name]["api_key"] is None
    every = results["every option, nvfp4 weights, nvfp4 KV"]
    assert (every["quantization"], every["kv_cache_dtype"], every["tp_size"]) == ("modelopt_fp4", "nvfp4", 2)
    assert (every["context_length"], every["max_running_requests"], every["chunked_prefill_size"]) == (
        4096,
        16,
        8192,
    )
    assert (every["mem_fraction_static"], every["served_model_name"], every["dtype"]) == (
        0.85,
        "qwen",
        "bfloat16",
    )
    assert every["disable_prefill_cuda_graph"] and every["disable_decode_cuda_graph"]
    fp8 = results["every option, fp8 weights, fp8 KV"]
    assert (fp8["quantization"], fp8["kv_cache_dtype"]) == ("modelopt_fp8", "fp8_e4m3")
    plain = results["every option, none weights, none KV"]
    assert (plain["quantization"], plain["kv_cache_dtype"]) == (None, "auto")
    assert results["dummy weights"]["load_format"] == "dummy"
    assert plain["load_format"] == "auto"


@pytest.mark.integration
def test_sglang_parser_would_catch_a_misspelled_flag(parsed) -> None:
    """The check can fail: a flag SGLang does not know makes its parser exit."""
    assert "error" in parsed[1]["typo"]


@pytest.mark.integration
def test_the_capability_table_states_sglangs_own_limits(sglang_python: Path) -> None:
    """FP8 from compute capability 8.9, NVFP4 from 8.0, FP8_PER_CHANNEL_PER_TOKEN refused: as SGLang says."""
    limits = run_in_sglang(sglang_python, LIMITS_IN_SGLANG)
    assert (limits["fp8_min"], limits["fp4_min"]) == ([89], [80])
    assert (
        len(limits["fp8_only_refusal"]) == 1 and "only supports regular FP8" in limits["fp8_only_refusal"][0]
    )
    assert limits["names"] == ["modelopt_fp8", "modelopt_fp4"]
