"""Engine command lines as golden tests: the exact argv each engine gets, flags cited in the adapters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.engines.registry import build_launch_spec
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import KvCacheFormat, QuantFormat, RuntimeKind

CKPT = Path("/var/cache/deployctl/checkpoints/abc123")


def spec_for(recipe: dict, fmt: str = "none", kv: str = "none", runtime: str = "docker"):
    recipe = parse_recipe_dict({"name": "demo", "model": "Qwen/Qwen3-8B", **recipe, "runtime": runtime})
    checkpoint = Checkpoint(path=CKPT, key="abc123", format=QuantFormat(fmt), kv_cache=KvCacheFormat(kv))
    placement = Placement.for_runtime(
        RuntimeKind(runtime), checkpoint, config_dir="/run/demo", hf_cache="/hf"
    )
    return build_launch_spec(recipe, checkpoint, placement)


GOLDEN = [
    (
        "vllm serves an fp8 checkpoint with the modelopt method",
        {"gpu": "H100 SXM", "engine": "vllm"},
        "fp8",
        "none",
        "vllm serve /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo --quantization modelopt",
    ),
    (
        "vllm serves nvfp4 with modelopt_fp4 and an fp8 KV cache over two GPUs",
        {
            "gpu": {"type": "B200", "count": 2},
            "engine": {
                "name": "vllm",
                "max_model_len": 8192,
                "gpu_memory_utilization": 0.85,
                "max_batch_size": 64,
            },
        },
        "nvfp4",
        "fp8",
        "vllm serve /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo --quantization modelopt_fp4 "
        "--kv-cache-dtype fp8 --tensor-parallel-size 2 --max-model-len 8192 --max-num-seqs 64 "
        "--gpu-memory-utilization 0.85",
    ),
    (
        "vllm on cpu gets eager mode, a bounded KV cache and a sequence limit",
        {"gpu": "cpu", "engine": "vllm"},
        "none",
        "none",
        "vllm serve /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo --max-num-seqs 4 "
        "--kv-cache-memory-bytes 67108864 --enforce-eager --dtype bfloat16",
    ),
    (
        "vllm passes extra args last",
        {"gpu": "L4", "engine": {"name": "vllm", "extra_args": ["--load-format", "dummy"]}},
        "none",
        "none",
        "vllm serve /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo --load-format dummy",
    ),
    (
        "vllm initialises the weights itself for model.weights: dummy",
        {
            "model": {"path": "/models/llama-70b-shape", "weights": "dummy"},
            "gpu": {"type": "H200", "count": 2},
            "engine": "vllm",
        },
        "none",
        "none",
        "vllm serve /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo --load-format dummy "
        "--tensor-parallel-size 2",
    ),
    (
        "trtllm serves fp8 on the pytorch backend",
        {"gpu": "H100 SXM", "engine": "trtllm"},
        "fp8",
        "none",
        "trtllm-serve /models/abc123 --host 0.0.0.0 --port 8000 --backend pytorch",
    ),
    (
        "trtllm gets tensor parallel, limits and the KV dtype through its options file",
        {
            "gpu": {"type": "H100 SXM", "count": 2},
            "engine": {
                "name": "trtllm",
                "max_batch_size": 32,
                "max_num_tokens": 8192,
                "max_model_len": 4096,
                "gpu_memory_utilization": 0.8,
            },
        },
        "fp8",
        "fp8",
        "trtllm-serve /models/abc123 --host 0.0.0.0 --port 8000 --backend pytorch --tp_size 2 --max_batch_size 32 "
        "--max_num_tokens 8192 --max_seq_len 4096 --extra_llm_api_options /etc/deployctl/trtllm-extra-options.yaml",
    ),
    (
        "transformers serve pins the model and runs on cpu",
        {"gpu": "cpu", "engine": "transformers"},
        "none",
        "none",
        "transformers serve /models/abc123 --host 0.0.0.0 --port 8000 --device cpu",
    ),
    (
        "sglang serves an fp8 checkpoint and KV cache with modelopt_fp8 and fp8_e4m3",
        {"gpu": "H100 SXM", "engine": "sglang"},
        "fp8",
        "fp8",
        "sglang serve --model-path /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo "
        "--quantization modelopt_fp8 --kv-cache-dtype fp8_e4m3",
    ),
    (
        "sglang gets tensor parallel, limits, its memory share and eager mode as its own flags",
        {
            "gpu": {"type": "B200", "count": 2},
            "engine": {
                "name": "sglang",
                "max_model_len": 8192,
                "max_batch_size": 64,
                "max_num_tokens": 4096,
                "gpu_memory_utilization": 0.8,
                "enforce_eager": True,
            },
        },
        "nvfp4",
        "nvfp4",
        "sglang serve --model-path /models/abc123 --host 0.0.0.0 --port 8000 --served-model-name demo "
        "--quantization modelopt_fp4 --kv-cache-dtype nvfp4 --tp-size 2 --context-length 8192 "
        "--max-running-requests 64 --chunked-prefill-size 4096 --mem-fraction-static 0.8 "
        "--disable-prefill-cuda-graph --disable-decode-cuda-graph",
    ),
]


@pytest.mark.parametrize(("recipe", "fmt", "kv", "argv"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_engine_argv_is_exactly(recipe: dict, fmt: str, kv: str, argv: str) -> None:
    assert " ".join(spec_for(recipe, fmt, kv).argv) == argv


def test_trtllm_options_file_carries_kv_dtype_and_memory_fraction() -> None:
    spec = spec_for(
        {"gpu": "H100 SXM", "engine": {"name": "trtllm", "gpu_memory_utilization": 0.8}}, "fp8", "fp8"
    )
    (options,) = spec.files
    assert yaml.safe_load(options.content) == {
        "kv_cache_config": {"dtype": "fp8", "free_gpu_memory_fraction": 0.8}
    }
    assert any(m.target == options.target and m.purpose == "config" for m in spec.mounts)


def test_trtllm_initialises_dummy_weights_through_its_options_file() -> None:
    spec = spec_for(
        {"model": {"path": "/models/m", "weights": "dummy"}, "gpu": "H100 SXM", "engine": "trtllm"}
    )
    (options,) = spec.files
    assert yaml.safe_load(options.content) == {"load_format": "dummy"}
    assert spec.args[-2:] == ("--extra_llm_api_options", options.target)


def test_a_local_trtllm_names_its_options_file_by_content_so_a_kept_old_engine_keeps_its_own() -> None:
    def options_target(fraction: float) -> str:
        recipe = {"gpu": "H100 SXM", "engine": {"name": "trtllm", "gpu_memory_utilization": fraction}}
        (options,) = spec_for(recipe, "fp8", "fp8", runtime="process").files
        assert options.target.startswith("/run/demo/trtllm-extra-options-") and options.name in options.target
        return options.target

    assert options_target(0.8) == options_target(0.8)
    assert options_target(0.8) != options_target(0.7)


def test_process_runtime_uses_host_paths_and_the_recipe_port() -> None:
    spec = spec_for(
        {"gpu": "cpu", "engine": "transformers", "serve": {"port": 8123, "host": "127.0.0.1"}},
        runtime="process",
    )
    assert spec.argv[2] == str(CKPT)
    assert spec.python_argv("/venv/bin/python")[:4] == (
        "/venv/bin/python",
        "-m",
        "transformers.cli.transformers",
        "serve",
    )
    assert "--port" in spec.args and spec.args[spec.args.index("--port") + 1] == "8123"
    assert spec.mounts == ()


def test_docker_mounts_checkpoint_read_only_and_publishes_recipe_port() -> None:
    spec = spec_for({"gpu": "H100 SXM", "engine": "vllm", "serve": {"port": 9000}}, "fp8")
    checkpoint_mount = next(m for m in spec.mounts if m.purpose == "checkpoint")
    assert checkpoint_mount.read_only and checkpoint_mount.source == str(CKPT)
    assert (spec.port, spec.container_port) == (9000, 8000)
    assert spec.gpu_count == 1


def test_api_key_travels_by_name_only() -> None:
    spec = spec_for({"gpu": "H100 SXM", "engine": "vllm", "serve": {"api_key_env": "MY_KEY"}}, "fp8")
    assert spec.secret_env == {"VLLM_API_KEY": "MY_KEY"}
    assert "--api-key" not in spec.argv
    assert "MY_KEY" not in " ".join(spec.labels().values())


def test_multi_gpu_passes_multicast_switches_through() -> None:
    spec = spec_for({"gpu": {"type": "H200", "count": 2}, "engine": "vllm"})
    assert {"NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS"} <= set(
        spec.passthrough_env
    )
    assert spec.ipc_host


@pytest.mark.parametrize(
    ("change", "changes_hash"),
    [
        ({"serve": {"port": 8001}}, True),
        ({"engine": {"name": "vllm", "max_model_len": 2048}}, True),
        ({"model": {"id": "Qwen/Qwen3-8B", "weights": "dummy"}}, True),
        ({}, False),
    ],
    ids=[
        "a new port changes the spec hash",
        "a new limit changes the spec hash",
        "dummy weights change the spec hash",
        "the same recipe keeps its hash",
    ],
)
def test_spec_hash_tracks_what_changes_the_engine(change: dict, changes_hash: bool) -> None:
    base = {"gpu": "H100 SXM", "engine": "vllm"}
    assert (spec_for(base).spec_hash() != spec_for({**base, **change}).spec_hash()) is changes_hash


def test_sglang_module_form_runs_the_same_server_and_it_waits_on_its_generating_health_check() -> None:
    spec = spec_for({"gpu": "H100 SXM", "engine": "sglang"}, "fp8", "none", runtime="process")
    assert spec.python_argv("/venv/bin/python")[:3] == ("/venv/bin/python", "-m", "sglang.launch_server")
    assert spec.args[:2] == ("--model-path", str(CKPT)) and spec.health_path == "/health"
    assert "--api-key" not in spec.argv
