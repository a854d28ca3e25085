"""`trtllm-serve` command line (PyTorch backend) and its extra-options YAML.

TensorRT-LLM cannot run on these machines, so every flag is checked against its source instead:
NVIDIA/TensorRT-LLM `tensorrt_llm/commands/serve.py` @ 00209af1 (1.3.0rc line; `serve` click command):
- positional `MODEL` (HF checkpoint dir), `--host` (default localhost: must be 0.0.0.0 in a container),
  `--port`, `--backend` (pytorch | tensorrt | _autodeploy), `--tp_size` (alias of
  `--tensor_parallel_size`), `--max_batch_size`, `--max_num_tokens`, `--max_seq_len`,
  `--kv_cache_free_gpu_memory_fraction`, `--extra_llm_api_options` (alias of `--config`: a YAML whose
  keys override the CLI-derived LLM API arguments).
- KV-cache dtype has no flag: `kv_cache_config: {dtype: fp8}` in the options YAML
  (https://nvidia.github.io/TensorRT-LLM/llm-api/reference/KvCacheConfig.html; `dtype` default 'auto'
  follows the checkpoint's `kv_cache_quant_algo`).
- Weights the engine initialises (recipe `model.weights: dummy`) have no flag either: `load_format: dummy` in
  the options YAML. tensorrt_llm/llmapi/llm_args.py `TorchLlmArgs.load_format` (PyTorch backend) has a
  before-validator `convert_load_format` that maps "dummy" to `LoadFormat.DUMMY`, and
  tensorrt_llm/_torch/pyexecutor/model_loader.py `ModelLoader.load` @ 004b733e then calls
  `initialize_dummy_weights(model)` instead of `checkpoint_loader.load_weights` (only config.json is read).
- No served-name and no API-key option exist (TRT-LLM issue 9950): clients use the model id from
  `/v1/models`, and the capability table refuses `api_key_env` with trtllm.
- Health: `GET /health` (tensorrt_llm/serve/openai_server.py @ 00057725, `register_routes`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Engine, Placement, common_spec_fields, listen_host, listen_port
from deployctl.launch_spec import EngineArgs, GeneratedFile, LaunchSpec, Mount
from deployctl.recipe.model import KvCacheFormat, Recipe, RuntimeKind

ENGINE_NAME = "trtllm"  # its row in data/engines.yaml: image, health paths, memory and multi-node rules

OPTIONS_FILE = "trtllm-extra-options.yaml"

# KvCacheConfig.dtype values for the checkpoint's KV format.
KV_CACHE_DTYPE = {KvCacheFormat.FP8: "fp8", KvCacheFormat.NVFP4: "nvfp4"}


def extra_options(recipe: Recipe, checkpoint: Checkpoint) -> dict[str, Any]:
    """The LLM API options that have no CLI flag; empty keys are left out."""
    kv_cache: dict[str, object] = {}
    if dtype := KV_CACHE_DTYPE.get(checkpoint.kv_cache):
        kv_cache["dtype"] = dtype
    if recipe.engine.gpu_memory_utilization is not None:
        kv_cache["free_gpu_memory_fraction"] = recipe.engine.gpu_memory_utilization
    options: dict[str, object] = {"kv_cache_config": kv_cache} if kv_cache else {}
    if recipe.model.dummy:
        options["load_format"] = "dummy"
    return options


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    engine = recipe.engine

    args: list[str] = [placement.model_dir]
    args += ["--host", listen_host(recipe), "--port", str(listen_port(recipe, placement))]
    args += ["--backend", "pytorch"]
    if recipe.gpu.count > 1:
        args += ["--tp_size", str(recipe.gpu.count)]
    if engine.max_batch_size:
        args += ["--max_batch_size", str(engine.max_batch_size)]
    if engine.max_num_tokens:
        args += ["--max_num_tokens", str(engine.max_num_tokens)]
    if engine.max_model_len:
        args += ["--max_seq_len", str(engine.max_model_len)]

    files: list[GeneratedFile] = []
    mounts = list(placement.checkpoint_mounts(checkpoint))
    options = extra_options(recipe, checkpoint)
    if options:
        content = yaml.safe_dump(options, sort_keys=True)
        name = OPTIONS_FILE
        if placement.runtime is RuntimeKind.PROCESS:
            # A local engine reads the file from a host folder shared by the deployment's instances: one
            # name per content, so an old engine kept for a rollback still reads its own options after
            # the new one wrote its file. (A container gets its own read-only bind mount instead.)
            name = f"{Path(OPTIONS_FILE).stem}-{hashlib.sha256(content.encode()).hexdigest()[:12]}.yaml"
        target = f"{placement.config_dir}/{name}"
        files.append(GeneratedFile(name=name, content=content, target=target))
        args += ["--extra_llm_api_options", target]
        if placement.runtime is RuntimeKind.DOCKER:
            mounts.append(Mount(source=OPTIONS_FILE, target=target, purpose="config"))
    args += list(engine.extra_args)

    return LaunchSpec(
        **common_spec_fields(recipe),
        program=("trtllm-serve",),
        python_module=("tensorrt_llm.commands.serve",),
        args=tuple(args),
        engine_args=EngineArgs(
            model=placement.model_dir,
            served_name=placement.model_dir,
            tensor_parallel_size=recipe.gpu.count,
            quantization=checkpoint.format.value if checkpoint.is_quantized else None,
            kv_cache_dtype=KV_CACHE_DTYPE.get(checkpoint.kv_cache),
            max_model_len=engine.max_model_len,
            max_batch_size=engine.max_batch_size,
            max_num_tokens=engine.max_num_tokens,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            extra_args=tuple(engine.extra_args),
        ),
        env=dict(engine.env),
        mounts=tuple(mounts),
        files=tuple(files),
        gpu_count=recipe.gpu.count,
        # TensorRT-LLM's container guide runs with --ipc=host (NCCL and MPI use shared memory).
        shm_size=recipe.runtime.shm_size,
        ipc_host=True,
    )


ENGINE = Engine(name=ENGINE_NAME, build_launch_spec=build_launch_spec)
