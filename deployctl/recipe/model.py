"""The typed recipe: what an operator writes in YAML, validated once at the boundary.

Every model is strict (`extra="forbid"`, so a typo'd key is an error rather than silently ignored)
and frozen (no stage of the pipeline changes its input). Shorthands keep recipes short:
`model: Qwen/Qwen3-0.6B`, `gpu: "H100 SXM"`, `quantization: fp8`, `engine: vllm`, `runtime: process`.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_serializer, model_validator

from deployctl.engine_facts import engine_names
from deployctl.open_name import OpenName
from deployctl.recipe import grammar
from deployctl.strict import StrictModel as _StrictModel


class StrictModel(_StrictModel):
    """The project's strict base, and numbers are finite: `.inf`/`.nan` are never meaningful in a recipe
    (a `.nan` limit makes a gate never fire, an `.inf` timeout overflows a renderer)."""

    model_config = ConfigDict(**_StrictModel.model_config, allow_inf_nan=False)


class QuantFormat(str, Enum):
    """Weight/activation formats; names follow Model Optimizer's presets (see quantize.formats)."""

    NONE = "none"
    FP8 = "fp8"
    FP8_PC_PT = "fp8_pc_pt"
    NVFP4 = "nvfp4"
    W4A16_AWQ = "w4a16_awq"
    W4A8_AWQ = "w4a8_awq"
    INT8_SQ = "int8_sq"


class KvCacheFormat(str, Enum):
    NONE = "none"
    FP8 = "fp8"
    NVFP4 = "nvfp4"


class EngineName(OpenName):
    """An engine's name: a row of data/engines.yaml, or an engine registered at run time
    (`deployctl.engines.registry.register_engine`). The built-ins are also constants (`EngineName.VLLM`)."""

    TRTLLM: ClassVar[EngineName]
    VLLM: ClassVar[EngineName]
    TRANSFORMERS: ClassVar[EngineName]

    @classmethod
    def known(cls) -> tuple[str, ...]:
        return engine_names()


EngineName.TRTLLM, EngineName.VLLM, EngineName.TRANSFORMERS = map(
    EngineName, ("trtllm", "vllm", "transformers")
)


class RuntimeKind(OpenName):
    """Where an engine runs: a kind registered by `deployctl.runtimes.registry` (docker, process, or one
    added with `register_runtime`)."""

    DOCKER: ClassVar[RuntimeKind]
    PROCESS: ClassVar[RuntimeKind]
    _registered: ClassVar[list[str]] = ["docker", "process"]

    @classmethod
    def known(cls) -> tuple[str, ...]:
        return tuple(cls._registered)

    @classmethod
    def register(cls, name: str) -> RuntimeKind:
        if name not in cls._registered:
            cls._registered.append(name)
        return cls(name)

    @classmethod
    def unregister(cls, name: str) -> None:
        if name in cls._registered:
            cls._registered.remove(name)


RuntimeKind.DOCKER, RuntimeKind.PROCESS = RuntimeKind("docker"), RuntimeKind("process")


_HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_TINY = re.compile(r"^tiny-(qwen3|llama)$")
_CALIBRATION_DEVICE = re.compile(r"^(auto|cpu|cuda:\d{1,2})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Shapes of real secrets: a pasted value where an env var *name* belongs must never be stored.
_SECRET_SHAPES = grammar.SECRET_SHAPES


class ModelSpec(StrictModel):
    """Exactly one of `id` (Hugging Face), `path` (local folder) or `generate` (tiny test model)."""

    id: str | None = Field(None, description="Hugging Face repo id, e.g. Qwen/Qwen3-0.6B")
    revision: str = Field("main", description="Branch, tag or commit of the Hugging Face repo")
    path: Path | None = Field(
        None,
        description="Local folder with config.json and safetensors (only config.json and the tokenizer with weights: dummy)",
    )
    generate: str | None = Field(
        None, description="Generate a tiny random-weight model locally: tiny-qwen3 or tiny-llama"
    )
    weights: Literal["checkpoint", "dummy"] = Field(
        "checkpoint",
        description="checkpoint: the engine loads the model's weight files. dummy: the engine initialises "
        "random weights itself (vLLM and SGLang --load-format dummy, TensorRT-LLM load_format: dummy), so "
        "the folder or repo needs only config.json and the tokenizer: for measuring memory fit, start-up and "
        "throughput of a model whose weights are not at hand. Its answers are noise; it cannot be quantized "
        "(nothing to calibrate) and transformers serve has no such option",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith(("/", "./", "../", "~")):
                return {"path": value}
            if _TINY.match(value):
                return {"generate": value}
            return {"id": value}
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ModelSpec:
        given = [name for name in ("id", "path", "generate") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of model.id (Hugging Face id), model.path (local folder) "
                f"or model.generate (tiny-qwen3/tiny-llama); got {given or 'none'}"
            )
        if self.id is not None and not _HF_ID.match(self.id):
            raise ValueError(f"'{self.id}' is not a Hugging Face id of the form org/name")
        if self.generate is not None and not _TINY.match(self.generate):
            raise ValueError(f"unknown generated model '{self.generate}': use tiny-qwen3 or tiny-llama")
        if self.generate is not None and self.dummy:
            raise ValueError(
                "model.weights: dummy needs model.path or model.id (a config.json to take the shape from); "
                "a generated tiny model has real weights already"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_default_weights(self, handler: Any) -> Any:
        """`weights` appears in the recipe's data only when dummy: recipes written before it keep their hash."""
        data = handler(self)
        if isinstance(data, dict) and not self.dummy:
            data.pop("weights", None)
        return data

    @property
    def dummy(self) -> bool:
        """The engine initialises the weights (`weights: dummy`): nothing is read but config and tokenizer."""
        return self.weights == "dummy"

    @property
    def display(self) -> str:
        if self.id:
            name = f"{self.id}@{self.revision}"
        else:
            name = str(self.path) if self.path else f"generated:{self.generate}"
        return f"{name} (dummy weights)" if self.dummy else name


class GpuSpec(StrictModel):
    type: str = Field("auto", description="auto (detect with NVML), cpu, or a catalogue name like 'H100 SXM'")
    count: int = Field(1, ge=1, le=64, description="GPUs per node (tensor parallel size)")
    nodes: int = Field(
        1, ge=1, le=64, description="Nodes (pipeline parallel across nodes; Kubernetes renderers)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @property
    def is_cpu(self) -> bool:
        return self.type.strip().lower() == "cpu"


class CalibrationSpec(StrictModel):
    dataset: str = Field(
        "builtin",
        description="builtin (shipped text), a .txt/.jsonl file, or hf:<dataset name> from the Hugging Face Hub",
    )
    samples: int = Field(128, ge=1, le=100_000)
    seq_len: int = Field(512, ge=8, le=131_072)
    batch_size: int = Field(4, ge=1, le=1024)


class QualityGate(StrictModel):
    max_perplexity_increase: float | None = Field(
        None, ge=0, le=100, description="Refuse to serve when perplexity rises more than this (0.05 or '5%')"
    )
    min_top1_agreement: float | None = Field(None, ge=0, le=1)
    eval_samples: int = Field(16, ge=1, le=10_000)

    @field_validator("max_perplexity_increase", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            return float(value.strip()[:-1]) / 100.0
        return value


class QuantizationSpec(StrictModel):
    format: QuantFormat = Field(
        QuantFormat.NONE,
        description="Weights/activations format. int8_sq is calibrate-only: Model Optimizer writes its W8A8 "
        "SmoothQuant export, but no engine deployctl drives serves it (vLLM's ModelOpt loader lacks "
        "W8A8_SQ_PER_CHANNEL; TensorRT-LLM's PyTorch backend has no SmoothQuant linear method), so validate, "
        "quantize and apply refuse it",
    )
    kv_cache: KvCacheFormat = KvCacheFormat.NONE
    kv_cache_scales: Literal["calibrated", "fixed"] = Field(
        "calibrated",
        description="fp8 KV cache only. calibrated: per-layer k/v scales measured on the calibration data "
        "(k_scale/v_scale tensors). fixed: Model Optimizer's fp8_cast form (use_constant_amax: amax pinned "
        "to 448, no k/v scale tensors written, the engine uses scale 1.0): serves on engine versions that "
        "cannot load the scale tensors (vLLM < 0.33 for Qwen2/Qwen3)",
    )
    calibration: CalibrationSpec = CalibrationSpec()
    quality: QualityGate = QualityGate()
    # Where calibration runs; none of these change the exported bytes (not part of the cache key).
    device: str = Field(
        "auto",
        description="auto: a GPU with room, else capped GPU shares with the rest in host RAM, else the CPU "
        "(the plan says which and why); cpu; or cuda:N (that GPU, capped and offloaded if it must be)",
    )
    max_gpu_memory_gib: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="Most GiB of weights calibration may place on each GPU (activations come on top); "
        "the rest goes to host RAM (Model Optimizer hf_ptq --max_gpu_memory_gb)",
    )  # fmt: skip
    max_cpu_memory_gib: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="Most GiB of weights calibration may hold in host RAM; the rest is read from an offload "
        "folder on disk (Model Optimizer hf_ptq --max_cpu_memory_gb)",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"format": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fixed_scales_need_fp8_kv(self) -> QuantizationSpec:
        if self.kv_cache_scales == "fixed" and self.kv_cache is not KvCacheFormat.FP8:
            raise ValueError(
                "kv_cache_scales: fixed is the fp8_cast form of an fp8 KV cache: set kv_cache: fp8"
            )
        return self

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _CALIBRATION_DEVICE.match(value):
            raise ValueError(f"'{value}' is not a calibration device: use auto, cpu or cuda:N (e.g. cuda:1)")
        return value


# vLLM config/compilation.py CUDAGraphMode (0.24.0): the names `compilation_config.cudagraph_mode` takes.
CudaGraphMode = Literal["NONE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY", "FULL_AND_PIECEWISE"]

# Engine options that move speed or capacity, not what the model computes (kv_cache_dtype excepted:
# docs/tune.md). `deployctl tune` sweeps them; profiles set them; None = the engine's default.
TUNING_KEYS = (
    "max_batch_size",
    "max_num_tokens",
    "async_scheduling",
    "cuda_graph_mode",
    "cuda_graph_sizes",
    "performance_mode",
    "stream_interval",
    "linear_backend",
    "chunked_prefill",
    "kv_cache_dtype",
)


class EngineSpec(StrictModel):
    """Engine options that deployctl knows how to translate; `extra_args` passes the rest through."""

    name: EngineName
    image: str | None = Field(None, description="Override the pinned default image of the engine")
    max_model_len: int | None = Field(
        None, ge=16, le=1 << 24, description="Longest sequence (prompt + output)"
    )
    max_batch_size: int | None = Field(
        None, ge=1, le=1 << 16, description="Concurrent sequences (vLLM max-num-seqs)"
    )
    max_num_tokens: int | None = Field(None, ge=16, le=1 << 24, description="Tokens per scheduler step")
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="vLLM: share of GPU memory; trtllm: KV share of free memory"
    )
    kv_cache_memory_bytes: int | None = Field(
        None, ge=1 << 20, le=1 << 45, description="vLLM: explicit KV-cache size"
    )
    enforce_eager: bool = Field(False, description="vLLM: skip torch.compile and CUDA graphs")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    extra_args: tuple[str, ...] = Field((), description="Passed verbatim after deployctl's own flags")
    env: dict[str, str] = Field(default_factory=dict, description="Non-secret environment for the engine")
    telemetry: bool = Field(
        False,
        description="trtllm: allow TensorRT-LLM's usage telemetry. Off by default: deployctl sets "
        "TRTLLM_NO_USAGE_STATS=1 and, on trtllm-serve versions that document it, passes --no-telemetry",
    )
    # Tuning options (docs/tune.md): None = the engine's own default. `deployctl tune` sweeps them and a
    # matching profile (deployctl/data/profiles.yaml) fills the ones a recipe leaves unset.
    async_scheduling: bool | None = Field(
        None,
        description="vLLM --async-scheduling / --no-async-scheduling (None: vLLM decides; 0.24 enables it)",
    )
    cuda_graph_mode: CudaGraphMode | None = Field(
        None,
        description="vLLM compilation_config.cudagraph_mode (None: vLLM's default, FULL_AND_PIECEWISE at -O2)",
    )
    cuda_graph_sizes: tuple[int, ...] | None = Field(
        None, description="vLLM --cudagraph-capture-sizes: the batch sizes CUDA graphs are captured for"
    )
    performance_mode: Literal["balanced", "interactivity", "throughput"] | None = Field(
        None, description="vLLM --performance-mode (interactivity: capture sizes 1..32 one by one)"
    )
    stream_interval: int | None = Field(
        None, ge=1, le=1024, description="vLLM --stream-interval: tokens buffered per streamed chunk"
    )
    chunked_prefill: bool | None = Field(
        None, description="vLLM --enable-chunked-prefill / --no-enable-chunked-prefill"
    )
    linear_backend: Literal["cutlass", "torch", "triton"] | None = Field(
        None,
        description="vLLM --linear-backend: the GEMM kernels of quantized linear layers (None: vLLM picks; "
        "CUTLASS for per-tensor FP8 on Hopper)",
    )
    kv_cache_dtype: Literal["fp8"] | None = Field(
        None,
        description="vLLM --kv-cache-dtype for a checkpoint without a quantized KV cache (quantization.kv_cache: "
        "none). fp8 without calibrated scales changes the numerics (scale 1.0)",
    )
    profile: str = Field(
        "auto",
        pattern=r"^[a-z0-9][a-z0-9_.\-]{0,80}$",
        description="auto: the measured profile (deployctl/data/profiles.yaml) matching GPU, engine version, "
        "format, KV format and model shape fills every tuning option the recipe leaves unset; none: engine "
        "defaults; or a profile id",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("cuda_graph_sizes")
    @classmethod
    def _capture_sizes(cls, sizes: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if sizes is not None and (not sizes or min(sizes) < 1 or max(sizes) > 1 << 16):
            raise ValueError("engine.cuda_graph_sizes takes batch sizes from 1 to 65536, at least one")
        return sizes

    @model_serializer(mode="wrap")
    def _omit_unset_tuning(self, handler: Any) -> Any:
        """Tuning keys appear in the recipe's data only when set: recipes written before them keep their hash."""
        data = handler(self)
        if isinstance(data, dict):
            for key in TUNING_KEYS[2:]:  # max_batch_size and max_num_tokens were always written
                if data.get(key) is None:
                    data.pop(key, None)
            if data.get("profile") == "auto":
                data.pop("profile", None)
        return data

    def tuning(self) -> dict[str, Any]:
        """The tuning options this spec sets (`TUNING_KEYS` that are not None)."""
        return {key: getattr(self, key) for key in TUNING_KEYS if getattr(self, key) is not None}

    @field_validator("image")
    @classmethod
    def _image_reference(cls, value: str | None) -> str | None:
        if value is not None and (problem := grammar.check_image(value)):
            raise ValueError(problem)
        return value

    @field_validator("extra_args")
    @classmethod
    def _no_secret_in_args(cls, args: tuple[str, ...]) -> tuple[str, ...]:
        """A value in extra_args lands in argv, `ps`, compose files and manifests: never a secret."""
        for position, arg in enumerate(args):
            flag, _, inline = arg.partition("=")
            named = flag.startswith("-") and grammar.looks_secret_name(flag.lstrip("-"))
            following = args[position + 1] if position + 1 < len(args) else ""
            value = inline or ("" if following.startswith("-") else following)
            if grammar.secret_in(arg) or (named and value):
                raise ValueError(
                    f"engine.extra_args[{position}] carries a secret ({flag if named else 'a token'}): "
                    "extra_args end up in the command line, `ps`, compose files and manifests. Put the "
                    "value in an environment variable and give its NAME under serve.api_key_env (the "
                    "API key) or pass it from your environment (HF_TOKEN)"
                )
        return args

    @field_validator("env")
    @classmethod
    def _env_has_no_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for key, value in env.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid environment variable name")
            if _looks_secret_name(key) or grammar.secret_in(str(value)):
                raise ValueError(
                    f"engine.env.{key} looks like a secret; secrets never go in a recipe: "
                    "name the variable under serve.api_key_env or pass it from your environment"
                )
        return env


class RuntimeSpec(StrictModel):
    kind: RuntimeKind = RuntimeKind.DOCKER
    network: Literal["bridge", "host"] = "bridge"
    python: Path | None = Field(
        None, description="process runtime: interpreter whose environment holds the engine"
    )
    shm_size: str = Field("8g", pattern=r"^\d+[bkmg]?$", description="docker: /dev/shm size")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


class ServeSpec(StrictModel):
    host: str = Field("0.0.0.0", description="Interface the engine listens on")
    port: int = Field(8000, ge=1, le=65535)
    served_name: str | None = Field(None, description="Model name clients send; default: the deployment name")
    api_key_env: str | None = Field(
        None, description="NAME of the environment variable holding the API key (never the key itself)"
    )
    health_timeout_s: float = Field(
        900, gt=0, le=86_400, description="Deadline for the engine to become healthy"
    )
    swap: Literal["auto", "replace", "blue-green"] = Field(
        "auto",
        description="How a re-apply swaps the running engine for a changed one. replace: quantize while the "
        "old engine serves, stop it but keep it, start the new one, smoke it, then retire the old; any "
        "failure restores the old one (the endpoint is down while the new engine starts). blue-green: "
        "start the new engine beside the old one, smoke it, then move serve.network's name to it and "
        "retire the old one (no downtime; needs runtime docker, serve.network, and memory for two "
        "engines). auto: blue-green where all of that holds, else replace",
    )
    front: Literal["auto", "haproxy", "none"] = Field(
        "auto",
        description="A reverse proxy that owns serve.host:serve.port while engines listen on loopback ports "
        "of their own, so a swap moves the upstream instead of the port (docs/front.md). haproxy: always "
        "(runtime process; HAProxy must be installed). none: the engine binds serve.port itself. auto: "
        "haproxy when the runtime is process, serve.swap is not replace and haproxy is installed",
    )
    network: str | None = Field(
        None,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,62}$",
        description="docker runtime: a container network on which the serving engine answers as "
        "http://<deployment name>:<serve.port>; the name moves to the new engine on a blue-green swap. "
        "Created when missing. The host then gets a loopback port per engine for deployctl's own checks "
        "instead of serve.host:serve.port (a published host port cannot move between containers)",
    )

    @field_validator("host")
    @classmethod
    def _host_grammar(cls, value: str) -> str:
        if problem := grammar.check_host(value):
            raise ValueError(problem)
        return value

    @field_validator("served_name")
    @classmethod
    def _served_name_grammar(cls, value: str | None) -> str | None:
        if value is not None and (problem := grammar.check_served_name(value)):
            raise ValueError(problem)
        if value is not None and grammar.secret_in(value):
            raise ValueError("serve.served_name looks like a secret token; it is sent and logged in clear")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _is_a_name_not_a_key(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if _SECRET_SHAPES.match(value) or not _ENV_NAME.match(value):
            raise ValueError(
                "serve.api_key_env takes the NAME of an environment variable (e.g. DEPLOYCTL_API_KEY), "
                "not the key itself"
            )
        return value


SMOKE_PROMPT = "Say hello in one short sentence."  # also `deployctl smoke URL` without a recipe


class SmokeSpec(StrictModel):
    enabled: bool = True
    prompt: str = Field(SMOKE_PROMPT, min_length=1, max_length=10_000)
    max_tokens: int = Field(16, ge=1, le=4096)
    timeout_s: float = Field(120, gt=0, le=3600)


class TaskQualitySpec(StrictModel):
    """`quality:` the served endpoint measured with lm-evaluation-harness, and the gate on a swap.

    Distinct from `quantization.quality`, which judges a fresh checkpoint offline against its own base
    model (perplexity, KL) before anything is served: this section evaluates the running engine through
    its OpenAI endpoint, and on a swap that changes the checkpoint compares the candidate engine with
    the one it replaces before the cutover.
    """

    tasks: tuple[str, ...] = Field(
        ("deployctl_cloze",),
        min_length=1,
        description="lm-eval task or group names; the shipped offline tasks are deployctl_cloze "
        "(multiple choice) and deployctl_next_word (generation)",
    )
    include_path: Path | None = Field(
        None, description="A folder of your own lm-eval task YAML files (relative to the recipe file)"
    )
    limit: int | None = Field(100, ge=1, description="Examples per task (null: all of them)")
    num_fewshot: int | None = Field(None, ge=0, description="Few-shot examples (null: each task's default)")
    max_task_drop: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Gate a swap that changes the checkpoint: refuse it when a task's main metric drops "
        "by more than this (0.02 or '2%', absolute) plus twice the standard error of the difference. "
        "Unset: no evaluation during apply",
    )
    chat: bool = Field(
        False, description="Run generation tasks through /v1/chat/completions with the chat template"
    )
    num_concurrent: int = Field(4, ge=1, le=256, description="Requests lm-eval keeps in flight")
    timeout_s: float = Field(1800, gt=0, description="Deadline for one evaluation of all tasks")

    @field_validator("max_task_drop", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            return float(value.strip()[:-1]) / 100.0
        return value

    @property
    def gated(self) -> bool:
        return self.max_task_drop is not None


class Recipe(StrictModel):
    """A deployment: which model, on what, quantized how, served by which engine and how."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.\-]{0,62}$", description="Deployment name")
    model: ModelSpec
    gpu: GpuSpec = GpuSpec()
    quantization: QuantizationSpec = QuantizationSpec()
    engine: EngineSpec
    runtime: RuntimeSpec = RuntimeSpec()
    serve: ServeSpec = ServeSpec()
    smoke: SmokeSpec = SmokeSpec()
    quality: TaskQualitySpec = TaskQualitySpec()

    @model_validator(mode="after")
    def _kv_dtype_from_one_place(self) -> Recipe:
        if self.engine.kv_cache_dtype is not None and self.quantization.kv_cache is not KvCacheFormat.NONE:
            raise ValueError(
                f"engine.kv_cache_dtype is for a checkpoint without a quantized KV cache; this recipe's "
                f"quantization.kv_cache: {self.quantization.kv_cache.value} sets it already: remove one"
            )
        return self

    @property
    def served_name(self) -> str:
        return self.serve.served_name or self.name

    @property
    def has_front(self) -> bool:
        """A front owns the public port (only once `apply` resolved `serve.front: auto`)."""
        return self.serve.front == "haproxy"


def dummy_weights_in(recipe: dict[str, Any] | None) -> bool:
    """Whether a recipe kept as data (a state document's `recipe`) serves engine-initialised weights."""
    model = (recipe or {}).get("model")
    return isinstance(model, dict) and model.get("weights") == "dummy"


def _looks_secret_name(key: str) -> bool:
    return grammar.looks_secret_name(key)


RecipeDocument = Annotated[Recipe, Field(description="deployctl recipe")]
