"""`LaunchSpec`: the single source of truth for how one engine runs.

An engine adapter turns (recipe, checkpoint, placement) into a LaunchSpec; the docker and process
runtimes, the compose renderer, the Kubernetes renderers and the golden tests all read it. Nothing
else builds a command line. It carries the final argv *and* the structured engine arguments the argv
was made from, so renderers that need the parts (tensor parallel size, quantization) never re-parse.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field

from deployctl import __version__
from deployctl.strict import StrictModel

LABEL_MANAGED = "deployctl.managed"
LABEL_DEPLOYMENT = "deployctl.deployment"
LABEL_SPEC_HASH = "deployctl.spec-hash"
LABEL_ROLE = "deployctl.role"
LABEL_ENGINE = "deployctl.engine"
LABEL_VERSION = "deployctl.version"

# Images deployctl builds itself (tests/images/build.sh) hold a `pip install --target` folder whose
# console scripts point at the build host's interpreter, so they start as `python3 -m <python_module>`.
LOCAL_IMAGE_PREFIX = "localhost/deployctl/"

# NVLink multicast can take a host's GPUs out of service on some systems; when the operator sets
# these, the engine environment carries them through (see README, "Tensor parallel").
MULTICAST_SWITCHES = ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS")


class Mount(StrictModel):
    """A host folder the engine sees; `source` is a host path (docker) or the same path (process)."""

    source: str
    target: str
    read_only: bool = True
    purpose: Literal["checkpoint", "hf-cache", "engine-cache", "config"] = "checkpoint"


class GeneratedFile(StrictModel):
    """A file deployctl writes for the engine (e.g. trtllm's extra options YAML)."""

    name: str
    content: str
    target: str  # where the engine reads it (inside the container, or on the host for process)


class EngineArgs(StrictModel):
    """The structured arguments the argv was built from; what non-argv renderers read."""

    model: str
    served_name: str
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    max_model_len: int | None = None
    max_batch_size: int | None = None
    max_num_tokens: int | None = None
    gpu_memory_utilization: float | None = None
    enforce_eager: bool = False
    dtype: str | None = None
    extra_args: tuple[str, ...] = ()


class LaunchSpec(StrictModel):
    """Everything needed to start one engine instance, and nothing secret."""

    deployment: str
    engine: str
    image: str
    program: tuple[str, ...] = Field(description="entrypoint: the engine's console command")
    python_module: tuple[str, ...] = Field(
        description="the same program as `python -m ...` (for pip --target images and venvs)"
    )
    args: tuple[str, ...]
    engine_args: EngineArgs
    env: dict[str, str] = Field(default_factory=dict, description="literal, non-secret values")
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        description="engine variable → NAME of the operator's variable holding the value (never the value)",
    )
    passthrough_env: tuple[str, ...] = Field((), description="names copied when set (HF_TOKEN, NCCL...)")
    mounts: tuple[Mount, ...] = ()
    files: tuple[GeneratedFile, ...] = ()
    host: str = "0.0.0.0"
    port: int = 8000
    container_port: int = 8000
    health_path: str = "/health"
    models_path: str = "/v1/models"
    gpu_count: int = 0
    shm_size: str | None = None
    ipc_host: bool = False
    network: Literal["bridge", "host"] = "bridge"
    service_network: str | None = Field(
        None,
        description="container network where the serving instance answers as <deployment>:<container_port>; "
        "`port` is then 0 (a loopback port picked per instance)",
    )
    startup_budget_s: float = 900
    api_key_env: str | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.program, *self.args)

    @property
    def uses_python_module_form(self) -> bool:
        """Our locally built images start programs as `python3 -m ...` (see LOCAL_IMAGE_PREFIX)."""
        return self.image.startswith(LOCAL_IMAGE_PREFIX)

    @property
    def entrypoint(self) -> tuple[str, ...]:
        """The container entrypoint every runtime and renderer sets: explicit, whatever the image's."""
        return ("python3", "-m", *self.python_module) if self.uses_python_module_form else self.program

    def python_argv(self, python: str) -> tuple[str, ...]:
        """The same command started through an interpreter (`python -m module args...`)."""
        return (python, "-m", *self.python_module, *self.args)

    @property
    def listen_port(self) -> int:
        """The port the engine binds: the published port with host networking, else the container's."""
        return self.port if self.network == "host" else self.container_port

    def spec_hash(self) -> str:
        """sha256 of everything that changes the running engine; equal hash → nothing to replace."""
        payload = self.model_dump(mode="json")
        if payload["service_network"] is None:  # added later: specs without it keep their old hash
            del payload["service_network"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def labels(self, role: str = "active") -> dict[str, str]:
        """Ownership labels on everything deployctl creates; observation filters on them."""
        return {
            LABEL_MANAGED: "true",
            LABEL_DEPLOYMENT: self.deployment,
            LABEL_SPEC_HASH: self.spec_hash(),
            LABEL_ROLE: role,
            LABEL_ENGINE: self.engine,
            LABEL_VERSION: __version__,
        }
