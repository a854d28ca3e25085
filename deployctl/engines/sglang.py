"""`sglang serve` command line from a recipe: Model Optimizer FP8 / NVFP4 checkpoints on SGLang.

Every flag is checked by SGLang's own parser in tests/engines/test_sglang_parser.py (PyPI sglang 0.5.23,
`sglang.srt.server_args.prepare_server_args`, what both `sglang serve` and `python -m
sglang.launch_server` call). Sources: sgl-project/sglang python/sglang/srt/ @ v0.5.23 (the PyPI wheel):
- `--model-path` (alias `--model`), `--load-format dummy` (recipe `model.weights: dummy`), `--context-length`, `--dtype`, `--quantization`, `--kv-cache-dtype`:
  arg_groups/fields/model.py l.51, 110, 160, 177, 197.
- `--host` (default 127.0.0.1: a container must bind 0.0.0.0), `--port` (default 30000),
  `--served-model-name`: arg_groups/fields/serving.py l.65, 66, 168.
- `--tp-size` (alias `--tensor-parallel-size`): arg_groups/fields/parallel.py l.45.
- `--mem-fraction-static` (weights + KV pool as a share of the whole GPU), `--max-running-requests`,
  `--chunked-prefill-size` (tokens per prefill chunk): arg_groups/fields/schedule.py l.27, 31, 52.
- `--disable-prefill-cuda-graph`, `--disable-decode-cuda-graph` (the non-deprecated spelling of
  `--disable-cuda-graph`): arg_groups/fields/exec_.py l.662, 666.
- API key: SGLang takes it only as `--api-key VALUE` (serving.py l.160; no environment variable), so the
  key would sit in the command line and the container's config; the capability table refuses
  `serve.api_key_env` with sglang instead. `engine.kv_cache_memory_bytes` is vLLM's and has no SGLang
  flag (its KV pool is sized by `--mem-fraction-static`, i.e. `engine.gpu_memory_utilization`).
- Health: `GET /health` runs a one-token generation and answers 503 while starting
  (entrypoints/http_server.py l.721-733); `GET /ready` (l.714) is the readiness probe.
"""

from __future__ import annotations

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Engine, Placement, common_spec_fields, listen_host, listen_port
from deployctl.launch_spec import EngineArgs, LaunchSpec
from deployctl.recipe.model import KvCacheFormat, QuantFormat, Recipe

ENGINE_NAME = "sglang"  # its row in data/engines.yaml: image, health paths, memory and multi-node rules

# ModelOpt checkpoint → SGLang quantization method (srt/layers/quantization/__init__.py l.68-72):
# ModelOptFp8Config "modelopt_fp8" accepts quant_algo FP8 only (modelopt_quant.py l.510: FP8_PER_CHANNEL_
# PER_TOKEN and the AWQ/SmoothQuant algorithms are refused); ModelOptFp4Config "modelopt_fp4" takes NVFP4.
QUANTIZATION_METHOD = {QuantFormat.FP8: "modelopt_fp8", QuantFormat.NVFP4: "modelopt_fp4"}

# --kv-cache-dtype choices (fields/model.py l.210-219): Model Optimizer's FP8 KV is E4M3.
KV_CACHE_DTYPE = {KvCacheFormat.FP8: "fp8_e4m3", KvCacheFormat.NVFP4: "nvfp4"}


def sglang_args(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> list[str]:
    """The server's flags, deployctl's own first, then `engine.extra_args` verbatim."""
    engine = recipe.engine
    args = ["--model-path", placement.model_dir, "--host", listen_host(recipe)]
    args += ["--port", str(listen_port(recipe, placement))]
    args += ["--served-model-name", recipe.served_name]
    if recipe.model.dummy:  # fields/model.py l.58 load_format; choices.py LOAD_FORMAT_CHOICES has "dummy"
        args += ["--load-format", "dummy"]
    if quantization := QUANTIZATION_METHOD.get(checkpoint.format):
        args += ["--quantization", quantization]
    if kv_dtype := KV_CACHE_DTYPE.get(checkpoint.kv_cache):
        args += ["--kv-cache-dtype", kv_dtype]
    if recipe.gpu.count > 1:
        args += ["--tp-size", str(recipe.gpu.count)]
    if engine.max_model_len:
        args += ["--context-length", str(engine.max_model_len)]
    if engine.max_batch_size:
        args += ["--max-running-requests", str(engine.max_batch_size)]
    if engine.max_num_tokens:
        args += ["--chunked-prefill-size", str(engine.max_num_tokens)]
    if engine.gpu_memory_utilization is not None:
        args += ["--mem-fraction-static", f"{engine.gpu_memory_utilization:g}"]
    if engine.enforce_eager:
        args += ["--disable-prefill-cuda-graph", "--disable-decode-cuda-graph"]
    if engine.dtype != "auto":
        args += ["--dtype", engine.dtype]
    return [*args, *engine.extra_args]


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    engine = recipe.engine
    return LaunchSpec(
        **common_spec_fields(recipe),
        # `sglang serve` is the recommended entrypoint (launch_server.py's __main__ warns so); the module
        # form is the same server: both call prepare_server_args(argv) then run_server (cli/serve.py).
        program=("sglang", "serve"),
        python_module=("sglang.launch_server",),
        args=tuple(sglang_args(recipe, checkpoint, placement)),
        engine_args=EngineArgs(
            model=placement.model_dir,
            served_name=recipe.served_name,
            tensor_parallel_size=recipe.gpu.count,
            quantization=QUANTIZATION_METHOD.get(checkpoint.format),
            kv_cache_dtype=KV_CACHE_DTYPE.get(checkpoint.kv_cache),
            max_model_len=engine.max_model_len,
            max_batch_size=engine.max_batch_size,
            max_num_tokens=engine.max_num_tokens,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            enforce_eager=engine.enforce_eager,
            dtype=None if engine.dtype == "auto" else engine.dtype,
            extra_args=tuple(engine.extra_args),
        ),
        env=dict(engine.env),
        mounts=placement.checkpoint_mounts(checkpoint),
        gpu_count=recipe.gpu.count,
        # SGLang's docker/compose.yaml runs the server with `ipc: host` (tensor-parallel workers share
        # memory through /dev/shm).
        shm_size=recipe.runtime.shm_size,
        ipc_host=True,
    )


ENGINE = Engine(name=ENGINE_NAME, build_launch_spec=build_launch_spec)
