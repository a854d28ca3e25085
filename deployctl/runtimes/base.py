"""What every runtime provides: start a `LaunchSpec`, observe it, read its logs, stop and remove it.

A runtime is the only place an engine is started or killed. Its contract, which `apply`, `status`,
`destroy` and the swap/rollback work rely on:

- `launch(spec, role=..., name=...) -> Handle` starts one *instance* and returns at once (health is
  `deployctl.serve.health`'s job). The instance carries the `deployctl.*` ownership labels of
  `LaunchSpec.labels(role)`; generated files (`spec.files`) are written under `instance_dir(name)`.
- `state(handle) -> InstanceState`: running / exited (with the exit code where known) / missing.
- `logs(handle, tail=, follow=)` yields the engine's output line by line (stdout and stderr merged).
- `stop(handle, timeout)` ends it gracefully (SIGTERM, then SIGKILL after `timeout`); `start(handle)`
  starts a stopped instance again (same container; a new process for the process runtime, so use the
  returned Handle); `remove(handle)` stops it if needed and deletes it and its files. All three are
  idempotent: acting on something already gone is not an error.
- `find(deployment=None)` observes instances by their labels only: nothing deployctl did not label is
  ever returned, and so nothing else is ever stopped or removed.

Adding a runtime = one module implementing `Runtime` (a class with `from_spec`) + one line in
`registry.py` (or `register_runtime` at run time); its kind becomes a valid `runtime.kind`.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.errors import EngineStartFailed
from deployctl.instance import WILDCARD_HOSTS, Handle, InstanceState
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import RuntimeKind, RuntimeSpec

DEFAULT_STOP_TIMEOUT_S = 10.0  # graceful stop; uvicorn waits this long for idle keep-alive clients


class Runtime(Protocol):
    """Start and observe engine instances; see the module docstring for the contract."""

    kind: RuntimeKind

    @classmethod
    def from_spec(cls, spec: RuntimeSpec) -> Runtime:
        """The runtime for a recipe's `runtime:` section; does no I/O (connect on first use)."""
        ...

    def launch(self, spec: LaunchSpec, *, role: str = "active", name: str | None = None) -> Handle: ...

    def state(self, handle: Handle) -> InstanceState: ...

    def logs(self, handle: Handle, *, tail: int | None = None, follow: bool = False) -> Iterator[str]: ...

    def stop(self, handle: Handle, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None: ...

    def start(self, handle: Handle) -> Handle: ...

    def remove(self, handle: Handle) -> None: ...

    def find(self, deployment: str | None = None) -> list[Handle]: ...


@runtime_checkable
class NetworkRuntime(Runtime, Protocol):
    """A runtime that can put an instance on a named network under an alias and take it off again:
    what a blue-green swap moves (`serve.network`). The executor asks for it only when the spec has a
    `service_network`, which the capability judge allows with the docker runtime alone."""

    def attach(self, handle: Handle, network: str, alias: str) -> None: ...

    def detach(self, handle: Handle, network: str) -> None: ...

    def attached(self, handle: Handle, network: str) -> bool: ...


def instance_dir(name: str) -> Path:
    """Per-instance folder for generated files (and the process record): `<home>/run/<name>/`.

    The process runtime's engines read generated files from here, so the caller building a
    `Placement` for `runtime: process` passes `config_dir=str(instance_dir(name))`.
    """
    return settings.home() / "run" / name


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for an instance whose spec leaves the published port open."""
    bind_host = "0.0.0.0" if host in WILDCARD_HOSTS else host
    with socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((bind_host, 0))
        return probe.getsockname()[1]


def ensure_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the published port is taken, naming it and the fix.

    Binds the way servers do (SO_REUSEADDR), so connections lingering in TIME_WAIT after a previous
    engine do not count as "in use"; a listening socket does.
    """
    bind_host = "0.0.0.0" if host in WILDCARD_HOSTS else host
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind_host, port))
        except OSError as exc:
            raise EngineStartFailed(
                f"port {port} on {bind_host} is already in use ({exc.strerror})",
                hint=f"stop whatever listens there (`ss -ltnp 'sport = :{port}'` shows it) "
                "or choose another serve.port in the recipe",
            ) from None


def write_generated_files(spec: LaunchSpec, name: str) -> dict[str, Path]:
    """Write `spec.files` into the instance folder atomically; returns target → host path."""
    folder = instance_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for generated in spec.files:
        path = folder / generated.name
        atomic_write_text(path, generated.content)
        written[generated.target] = path
    return written


def remove_instance_dir(name: str) -> None:
    shutil.rmtree(instance_dir(name), ignore_errors=True)
