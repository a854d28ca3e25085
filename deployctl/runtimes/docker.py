"""The engine in a container, through the Docker Engine API (`docker` SDK; Podman's socket works too).

`docker.from_env()` honours DOCKER_HOST, so `DOCKER_HOST=unix:///run/podman.sock` drives Podman
(measured: Podman's Docker-compatible API 1.41 with docker SDK 7.2).

How a LaunchSpec becomes a container (`container_options`):
- the name the caller gives (apply: `instance.instance_name(spec)`, one per spec hash), else
  `deployctl-<deployment>[-<role>]`; labels `LaunchSpec.labels(role)` + endpoint and name;
- the entrypoint is always set explicitly, so the same spec works whatever the image's ENTRYPOINT.
  `LaunchSpec.entrypoint` holds the rule (`python3 -m <python_module>` for our local images,
  `spec.program` otherwise); `spec.args` is the command in both cases;
- GPUs as a device request for `spec.gpu_count` GPUs; `--ipc=host` when `spec.ipc_host`, else
  `spec.shm_size`; mounts as the spec says (writable sources are created when missing); generated
  files bind-mounted read-only at their target; the port published on `spec.host` only, or host
  networking;
- the environment follows `runtimes.environment` (secret values read at launch, never stored).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deployctl.errors import DeployctlError, EngineStartFailed, ImageMissing, RuntimeUnavailable
from deployctl.instance import (
    LABEL_ENDPOINT,
    LABEL_NAME,
    Handle,
    InstanceState,
    endpoint_url,
    role_instance_name,
)
from deployctl.launch_spec import (
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_ROLE,
    LABEL_SPEC_HASH,
    LOCAL_IMAGE_PREFIX,
    LaunchSpec,
)
from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.base import (
    DEFAULT_STOP_TIMEOUT_S,
    ensure_port_free,
    free_port,
    remove_instance_dir,
    write_generated_files,
)
from deployctl.runtimes.environment import engine_environment

_RUNNING_STATES = {"running", "restarting", "paused"}


def container_options(
    spec: LaunchSpec,
    *,
    name: str,
    role: str,
    env: dict[str, str],
    files: dict[str, Path],
    host_port: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `client.containers.run` (no I/O; tests read them directly).

    `host_port` is the port picked for a spec whose `port` is 0 (`service_network`)."""
    from docker.types import DeviceRequest, Mount

    entrypoint = list(spec.entrypoint)
    mounts = [
        Mount(target=mount.target, source=mount.source, type="bind", read_only=mount.read_only)
        for mount in spec.mounts
    ]
    mounts += [
        Mount(target=target, source=str(path), type="bind", read_only=True) for target, path in files.items()
    ]
    options: dict[str, Any] = {
        "image": spec.image,
        "name": name,
        "entrypoint": entrypoint,
        "command": list(spec.args),
        "environment": env,
        "labels": {**spec.labels(role), LABEL_ENDPOINT: endpoint_url(spec, host_port), LABEL_NAME: name},
        "mounts": mounts,
        "detach": True,
    }
    if spec.network == "host":
        options["network_mode"] = "host"
    else:
        options["ports"] = {f"{spec.container_port}/tcp": (spec.host, host_port or spec.port)}
    if spec.gpu_count > 0:
        options["device_requests"] = [DeviceRequest(count=spec.gpu_count, capabilities=[["gpu"]])]
    if spec.ipc_host:
        options["ipc_mode"] = "host"
    elif spec.shm_size:
        options["shm_size"] = spec.shm_size
    return options


class DockerRuntime:
    """`Runtime` over the Docker Engine API; connects on first use, not at construction."""

    kind = RuntimeKind.DOCKER

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @classmethod
    def from_spec(cls, spec: RuntimeSpec) -> DockerRuntime:
        return cls()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def launch(self, spec: LaunchSpec, *, role: str = "active", name: str | None = None) -> Handle:
        name = name or role_instance_name(spec.deployment, role)
        self._require_image(spec.image)
        self._require_name_free(name)
        _prepare_mount_sources(spec)
        host_port = free_port(spec.host) if spec.port == 0 else None
        ensure_port_free(spec.host, host_port or spec.port)
        options = container_options(
            spec,
            name=name,
            role=role,
            env=engine_environment(spec),
            files=write_generated_files(spec, name),
            host_port=host_port,
        )
        try:
            container = self.client.containers.run(**options)
        except Exception as exc:
            self._discard_failed(name)
            raise _launch_error(exc, spec, name) from None
        return _handle(container.id, name, options["labels"])

    def state(self, handle: Handle) -> InstanceState:
        container = self._get(handle)
        if container is None:
            return InstanceState("missing")
        status = container.attrs.get("State", {})
        if status.get("Status") in _RUNNING_STATES or status.get("Running"):
            return InstanceState("running")
        return InstanceState("exited", status.get("ExitCode"))

    def logs(self, handle: Handle, *, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        container = self._get(handle)
        if container is None:
            return iter(())
        stream = container.logs(
            stdout=True, stderr=True, stream=True, follow=follow, tail="all" if tail is None else tail
        )
        return split_lines(stream)

    def stop(self, handle: Handle, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        container = self._get(handle)
        if container is not None and self.state(handle).running:
            container.stop(timeout=max(1, round(timeout)))

    def start(self, handle: Handle) -> Handle:
        container = self._get(handle)
        if container is None:
            raise DeployctlError(
                f"container {handle.name} no longer exists, so it cannot be started again",
                hint=f"run `deployctl apply` again to create deployment {handle.deployment}",
            )
        if not self.state(handle).running:
            container.start()
        return handle

    def remove(self, handle: Handle) -> None:
        container = self._get(handle)
        if container is not None:
            self.stop(handle)
            container.remove(force=True)
        remove_instance_dir(handle.name)

    def attach(self, handle: Handle, network: str, alias: str) -> None:
        """Join `network` answering as `alias` (idempotent); the network is created when missing.

        Docker and Podman resolve an alias to every container holding it, so attaching the new engine
        before detaching the old one leaves no moment where the name resolves to nothing."""
        from docker.errors import APIError

        container = self._get(handle)
        if container is None:
            raise DeployctlError(f"container {handle.name} is gone; it cannot join {network}")
        if _on_network(container, network):
            return
        target = self._network(network)
        try:
            with _engine_errors():
                target.connect(container, aliases=[alias])
        except APIError as exc:
            raise DeployctlError(f"could not attach {handle.name} to {network}: {_first_line(exc)}") from None

    def detach(self, handle: Handle, network: str) -> None:
        """Leave `network` (idempotent): the alias stops resolving to this container."""
        container = self._get(handle)
        if container is None or not _on_network(container, network):
            return
        with _engine_errors():
            self._network(network).disconnect(container)

    def attached(self, handle: Handle, network: str) -> bool:
        container = self._get(handle)
        return container is not None and _on_network(container, network)

    def _network(self, name: str) -> Any:
        from docker.errors import NotFound

        with _engine_errors():
            try:
                return self.client.networks.get(name)
            except NotFound:
                labels = {LABEL_MANAGED: "true"}  # never removed by deployctl: other containers may use it
                return self.client.networks.create(name, driver="bridge", labels=labels)

    def find(self, deployment: str | None = None) -> list[Handle]:
        wanted = [f"{LABEL_MANAGED}=true"] + ([f"{LABEL_DEPLOYMENT}={deployment}"] if deployment else [])
        with _engine_errors():
            containers = self.client.containers.list(all=True, filters={"label": wanted})
        handles = [_handle(c.id, c.name, c.labels) for c in containers if _owned(c.labels, deployment)]
        return sorted(handles, key=lambda h: h.name)

    def _get(self, handle: Handle) -> Any:
        """The container behind `handle`, or None when gone; refuses anything deployctl did not label."""
        from docker.errors import NotFound

        try:
            with _engine_errors():
                container = self.client.containers.get(handle.id)
        except NotFound:
            return None
        if not _owned(container.labels, handle.deployment):
            raise DeployctlError(
                f"container {container.name} is not labelled as deployctl's deployment {handle.deployment}; "
                "deployctl leaves it alone",
            )
        return container

    def _require_image(self, image: str) -> None:
        from docker.errors import ImageNotFound

        try:
            self.client.images.get(image)
        except ImageNotFound:
            if image.startswith(LOCAL_IMAGE_PREFIX):
                how = "build it with `bash tests/images/build.sh` (it builds deployctl's local CPU images)"
            else:
                how = f"pull it first: `docker pull {image}` (or `podman pull {image}`)"
            raise ImageMissing(f"the image {image} is not present locally", hint=how) from None

    def _require_name_free(self, name: str) -> None:
        from docker.errors import NotFound

        try:
            existing = self.client.containers.get(name)
        except NotFound:
            return
        owner = "deployctl" if _owned(existing.labels, None) else "something other than deployctl"
        raise DeployctlError(
            f"a container named {name} already exists (created by {owner}, status {existing.status})",
            hint="`deployctl destroy <name>` removes deployctl's own; rename or remove any other by hand",
        )

    def _discard_failed(self, name: str) -> None:
        """`containers.run` leaves a created-but-unstarted container behind when start fails."""
        from docker.errors import DockerException

        try:
            container = self.client.containers.get(name)
            if _owned(container.labels, None):
                container.remove(force=True)
        except DockerException:
            pass
        remove_instance_dir(name)


@contextmanager
def _engine_errors() -> Iterator[None]:
    """A container engine that goes away mid-run becomes `RuntimeUnavailable`, not a traceback."""
    try:
        from docker.errors import APIError, DockerException
        from requests.exceptions import ConnectionError as RequestsConnectionError
    except ImportError:
        raise _no_sdk() from None

    try:
        yield
    except APIError as exc:
        if exc.status_code == 404:
            raise
        raise RuntimeUnavailable(f"the container engine failed: {_first_line(exc)}") from None
    except (DockerException, RequestsConnectionError) as exc:
        raise RuntimeUnavailable(
            f"lost the connection to the container engine ({_first_line(exc)})",
            hint="check that Podman's service (or Docker) still runs at DOCKER_HOST",
        ) from None


def _no_sdk() -> RuntimeUnavailable:
    return RuntimeUnavailable(
        "the docker SDK is not installed in deployctl's environment",
        hint="pip install docker (it is a dependency of deployctl), or set runtime: process in the recipe",
    )


def connect() -> Any:
    """A connected client, or `RuntimeUnavailable` naming DOCKER_HOST and how to start a service."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise _no_sdk() from None

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (DOCKER_HOST is not set)"
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise RuntimeUnavailable(
            f"cannot reach a container engine at {where}",
            hint="start Podman's Docker-compatible service: `podman system service --time=0 "
            "unix:///tmp/podman.sock &` then `export DOCKER_HOST=unix:///tmp/podman.sock` "
            "(or start Docker); or set runtime: process in the recipe",
            details=[_first_line(exc)],
        ) from None
    return client


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Byte chunks as they arrive → text lines without their newline (a partial last line included)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", errors="replace").rstrip("\r")


def _prepare_mount_sources(spec: LaunchSpec) -> None:
    """A missing checkpoint is an error; a missing writable cache folder is simply created."""
    for mount in spec.mounts:
        source = Path(mount.source)
        if source.exists():
            continue
        if mount.read_only:
            raise DeployctlError(
                f"the {mount.purpose} folder {source} does not exist, so it cannot be mounted at {mount.target}",
                hint="check the recipe's model path, or run `deployctl quantize` again to rebuild the checkpoint",
            )
        source.mkdir(parents=True, exist_ok=True)


def _launch_error(exc: Exception, spec: LaunchSpec, name: str) -> DeployctlError:
    text = _first_line(exc)
    if "address already in use" in text.lower() or "port is already allocated" in text.lower():
        return EngineStartFailed(
            f"port {spec.port} on {spec.host} is already in use; container {name} was not started",
            hint=f"stop whatever listens there (`ss -ltnp 'sport = :{spec.port}'`) or choose another serve.port",
        )
    return EngineStartFailed(f"the container engine refused to start {name}: {text}")


def _on_network(container: Any, network: str) -> bool:
    return network in (container.attrs.get("NetworkSettings", {}).get("Networks") or {})


def _owned(labels: dict[str, str] | None, deployment: str | None) -> bool:
    labels = labels or {}
    if labels.get(LABEL_MANAGED) != "true":
        return False
    return deployment is None or labels.get(LABEL_DEPLOYMENT) == deployment


def _handle(container_id: str, name: str, labels: dict[str, str]) -> Handle:
    return Handle(
        runtime=RuntimeKind.DOCKER,
        id=container_id,
        name=labels.get(LABEL_NAME, name.lstrip("/")),
        deployment=labels[LABEL_DEPLOYMENT],
        role=labels.get(LABEL_ROLE, "active"),
        spec_hash=labels.get(LABEL_SPEC_HASH, ""),
        endpoint=labels.get(LABEL_ENDPOINT, ""),
    )


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
