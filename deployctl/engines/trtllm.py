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
from deployctl.engines.base import (
    Engine,
    Placement,
    common_spec_fields,
    default_image,
    listen_host,
    listen_port,
)
from deployctl.errors import RecipeError
from deployctl.launch_spec import EngineArgs, GeneratedFile, LaunchSpec, Mount
from deployctl.recipe.model import KvCacheFormat, Recipe, RuntimeKind

ENGINE_NAME = "trtllm"  # its row in data/engines.yaml: image, health paths, memory and multi-node rules

OPTIONS_FILE = "trtllm-extra-options.yaml"

# What each CLI flag sets among the LLM API arguments (serve.py get_llm_args @ 00209af1). Explicit CLI
# flags now beat the options YAML (PR https://github.com/NVIDIA/TensorRT-LLM/pull/14812) where they
# used to lose to it: deployctl sets each thing in one place only, and refuses extra_args that would
# set again what the options YAML sets.
CLI_SETS = {
    "--tp_size": "tensor_parallel_size", "--tensor_parallel_size": "tensor_parallel_size",
    "--pp_size": "pipeline_parallel_size", "--pipeline_parallel_size": "pipeline_parallel_size",
    "--max_batch_size": "max_batch_size", "--max_num_tokens": "max_num_tokens", "--max_seq_len": "max_seq_len",
    "--backend": "backend", "--trust_remote_code": "trust_remote_code", "--max_beam_width": "max_beam_width",
    "--free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "--kv_cache_free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "--config": "(the options file)", "--extra_llm_api_options": "(the options file)",
}  # fmt: skip
# Usage telemetry opt-out: the variable every telemetry API checks (tensorrt_llm/commands/_telemetry.py
# @ 5911a336, TRTLLM_NO_USAGE_STATS, inherited by worker processes; harmless where telemetry does not
# exist, e.g. the pinned 1.2.0); the flag only where trtllm-serve documents it (1.3.0rc29 docs,
# developer-guide/telemetry.html and commands/trtllm-serve), since an older click parser refuses it.
TELEMETRY_ENV = "TRTLLM_NO_USAGE_STATS"
NO_TELEMETRY_FLAG_FROM = "1.3.0rc29"

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
    _refuse_double_settings(engine.extra_args, options)
    env = dict(engine.env)
    if not engine.telemetry:
        env.setdefault(TELEMETRY_ENV, "1")
        if _documents_no_telemetry(default_image(recipe)):
            args.append("--no-telemetry")
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
        env=env,
        mounts=tuple(mounts),
        files=tuple(files),
        gpu_count=recipe.gpu.count,
        # TensorRT-LLM's container guide runs with --ipc=host (NCCL and MPI use shared memory).
        shm_size=recipe.runtime.shm_size,
        ipc_host=True,
    )


ENGINE = Engine(name=ENGINE_NAME, build_launch_spec=build_launch_spec)


def _refuse_double_settings(extra_args: tuple[str, ...], options: dict[str, Any]) -> None:
    """extra_args must not set again what the options YAML sets (the CLI would silently win)."""
    in_yaml = {f"{key}.{sub}" for key, value in options.items() for sub in value} | set(options)
    in_yaml |= {"(the options file)"} if options else set()
    for token in extra_args:
        target = CLI_SETS.get(token.split("=", 1)[0])
        if target in in_yaml:
            raise RecipeError(
                f"engine.extra_args {token} sets {target}, which deployctl already sets in the trtllm options YAML",
                field="engine.extra_args",
                hint="set it through the recipe field instead (engine.gpu_memory_utilization, ...), or drop it",
            )


def _documents_no_telemetry(image: str) -> bool:
    from deployctl.engine_version import is_version, version_key

    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2].removeprefix("v")
    return is_version(tag) and version_key(tag) >= version_key(NO_TELEMETRY_FLAG_FROM)
