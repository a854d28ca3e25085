"""A neutral description of one engine container, built from a `LaunchSpec` and nothing else.

Every renderer (compose today, Kubernetes later) reads a `PodDescription` instead of re-deriving how
an engine starts, so `deployctl apply`, `deployctl compose` and the Kubernetes manifests can never
disagree about the image, the command line or the environment. The rules copied here are the docker
runtime's own (`deployctl.runtimes.docker`): the entrypoint is `LaunchSpec.entrypoint`,
the labels from `LaunchSpec.labels` plus the runtime's endpoint/name labels.

Pure: no I/O, no YAML. Values that are not known when rendering (the checkpoint folder on the host,
the published address) are passed in by the renderer, which may use its own placeholders for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deployctl.instance import LABEL_ENDPOINT, LABEL_NAME, role_instance_name
from deployctl.launch_spec import LaunchSpec

# Every engine deployctl starts is a Python program, so python3 is in every engine image (the vLLM and
# TensorRT-LLM images, and our pip --target images, which have neither curl nor wget).
# urlopen raises on a refused connection and on any non-2xx status: the exit code says healthy or not.
_PROBE = "import urllib.request; urllib.request.urlopen({url!r}, timeout={timeout})"
PROBE_INTERVAL_S = 10
PROBE_TIMEOUT_S = 5
PROBE_RETRIES = 3


@dataclass(frozen=True)
class Volume:
    """A folder the engine sees. `kind="bind"`: `source` is a host path (or a renderer placeholder);
    `kind="volume"`: `source` names a persistent volume the orchestrator manages."""

    source: str
    target: str
    read_only: bool
    purpose: str
    kind: str = "bind"


@dataclass(frozen=True)
class ConfigFile:
    """A file deployctl generates for the engine (trtllm's extra options), with where it is read."""

    name: str
    content: str
    target: str


@dataclass(frozen=True)
class HealthProbe:
    """An exec probe: GET the engine's health path from inside the container."""

    command: tuple[str, ...]
    url: str
    start_period_s: int
    interval_s: int = PROBE_INTERVAL_S
    timeout_s: int = PROBE_TIMEOUT_S
    retries: int = PROBE_RETRIES


@dataclass(frozen=True)
class PodDescription:
    """One engine container, orchestrator-neutral. Environment is split by where values come from:
    literal (`env`), the operator's secret variables by NAME (`secret_env`), and passthrough names."""

    name: str
    container_name: str
    image: str
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    env: dict[str, str]
    secret_env: dict[str, str]
    passthrough_env: tuple[str, ...]
    volumes: tuple[Volume, ...]
    config_files: tuple[ConfigFile, ...]
    publish_host: str
    host_port: int
    container_port: int
    host_network: bool
    health: HealthProbe
    gpu_count: int
    shm_size: str | None
    ipc_host: bool
    labels: dict[str, str] = field(default_factory=dict)
    service_network: str | None = None  # joined with the deployment name as alias; host_port 0 = any


def container_command(spec: LaunchSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(entrypoint, command) exactly as the docker runtime sets them."""
    return spec.entrypoint, spec.args


def health_probe(spec: LaunchSpec) -> HealthProbe:
    """Probe the port the engine binds inside the container; wait up to the spec's startup budget."""
    url = f"http://127.0.0.1:{spec.listen_port}{spec.health_path}"
    code = _PROBE.format(url=url, timeout=PROBE_TIMEOUT_S - 1)
    return HealthProbe(command=("python3", "-c", code), url=url, start_period_s=int(spec.startup_budget_s))


def describe_pod(
    spec: LaunchSpec,
    *,
    role: str = "compose",
    checkpoint_source: str | None = None,
    publish_host: str | None = None,
    engine_cache_volume: str | None = None,
) -> PodDescription:
    """The container `spec` describes. `checkpoint_source` replaces the host side of the checkpoint
    mount, `publish_host` the address the port is published on (default: the spec's host), and
    `engine_cache_volume` turns the engine-cache folder into a named volume."""
    entrypoint, command = container_command(spec)
    name = role_instance_name(spec.deployment, role)
    volumes = tuple(
        _volume(
            mount.source, mount.target, mount.read_only, mount.purpose, checkpoint_source, engine_cache_volume
        )
        for mount in spec.mounts
        if mount.purpose != "config"  # generated files travel as `config_files`
    )
    host = spec.host if spec.service_network else (publish_host or spec.host)  # local checks only there
    endpoint_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    labels = {
        **spec.labels(role),
        LABEL_ENDPOINT: (
            f"http://{spec.deployment}:{spec.container_port}"
            if spec.service_network
            else f"http://{endpoint_host}:{spec.port}"
        ),
        LABEL_NAME: name,
    }
    return PodDescription(
        name=spec.deployment,
        container_name=name,
        image=spec.image,
        entrypoint=tuple(entrypoint),
        command=tuple(command),
        env=dict(spec.env),
        secret_env=dict(spec.secret_env),
        passthrough_env=tuple(spec.passthrough_env),
        volumes=volumes,
        config_files=tuple(ConfigFile(f.name, f.content, f.target) for f in spec.files),
        publish_host=host,
        host_port=spec.port,
        container_port=spec.container_port,
        host_network=spec.network == "host",
        health=health_probe(spec),
        gpu_count=spec.gpu_count,
        shm_size=spec.shm_size,
        ipc_host=spec.ipc_host,
        labels=labels,
        service_network=spec.service_network,
    )


def _volume(
    source: str,
    target: str,
    read_only: bool,
    purpose: str,
    checkpoint_source: str | None,
    engine_cache_volume: str | None,
) -> Volume:
    if purpose == "checkpoint" and checkpoint_source is not None:
        return Volume(checkpoint_source, target, read_only, purpose)
    if purpose == "engine-cache" and engine_cache_volume is not None:
        return Volume(engine_cache_volume, target, read_only, purpose, kind="volume")
    return Volume(source, target, read_only, purpose)
