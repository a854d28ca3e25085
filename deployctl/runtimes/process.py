"""The engine as a local child process: its own session and process group, outliving deployctl.

- argv: `spec.python_argv(runtime.python)` when the recipe names an interpreter whose environment
  holds the engine, else `spec.argv` with the program looked up on PATH.
- environment: a few operational variables of the operator (PATH, HOME, locale, CUDA and Hugging Face
  cache locations; `BASE_ENV`), then the same rules as containers (`runtimes.environment`). Nothing
  else leaks in, so a deployment does not depend on whatever the operator's shell happens to hold.
- output: stdout and stderr appended to `<logs_dir>/<name>.log`.
- generated files (`spec.files`) are written at their `target`, which for this runtime is a host path:
  `apply` builds the Placement with `config_dir=<home>/run/<deployment>`, shared by the deployment's
  instances, and engines name such files by their content (trtllm.py), so a kept old instance still
  reads its own; `destroy` removes the folder.
- a *process record* (`<home>/run/<name>/process.json`, written atomically) holds the pid, process
  group, the kernel's start time of the pid, the argv and its hash, the spec and the interpreter, so a
  later deployctl run can find, restart and stop it. A pid counts as ours only while its start time
  matches the record, so a recycled pid is never signalled.
- stop: SIGTERM to the whole group, SIGKILL to the group after the timeout.
- port: a spec with `port` 0 (an engine behind a front) gets a free loopback port at launch, put in
  place of the `--port 0` its argv carries, and keeps it when started again (the front points there).

Linux only (reads /proc).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.errors import DeployctlError, RuntimeUnavailable
from deployctl.instance import Handle, InstanceState, endpoint_url, role_instance_name
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.base import (
    DEFAULT_STOP_TIMEOUT_S,
    ensure_port_free,
    free_port,
    instance_dir,
    remove_instance_dir,
)
from deployctl.runtimes.environment import engine_environment

RECORD_FILE = "process.json"
TOKEN_VARIABLE = "DEPLOYCTL_INSTANCE_TOKEN"
BASE_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME",
)  # fmt: skip
_POLL_S = 0.1

# Children started by *this* deployctl process: polling them reaps zombies and yields exit codes.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ProcessRecord(BaseModel):
    """What `find()` and a later deployctl run know about one engine process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    name: str
    deployment: str
    role: str
    pid: int
    pgid: int
    start_ticks: int  # /proc/<pid>/stat field 22: identifies the pid across recycling
    token: str = ""  # DEPLOYCTL_INSTANCE_TOKEN in the engine's environment: tells apart two pids of one tick
    argv: tuple[str, ...]
    argv_hash: str
    python: str | None
    spec: dict[str, Any]  # LaunchSpec.model_dump(): no secret values, only names
    labels: dict[str, str]
    endpoint: str
    log_path: str
    started_at: str
    port: int | None = None  # the port picked at launch for a spec whose port is 0

    def handle(self) -> Handle:
        return Handle(
            runtime=RuntimeKind.PROCESS,
            id=str(self.pid),
            name=self.name,
            deployment=self.deployment,
            role=self.role,
            spec_hash=self.labels.get("deployctl.spec-hash", ""),
            endpoint=self.endpoint,
            log_path=self.log_path,
        )


class ProcessRuntime:
    """`Runtime` for local processes; `python` is the recipe's `runtime.python` (None: use PATH)."""

    kind = RuntimeKind.PROCESS

    def __init__(self, python: str | Path | None = None) -> None:
        self.python = str(Path(python).expanduser().absolute()) if python else None

    @classmethod
    def from_spec(cls, spec: RuntimeSpec) -> ProcessRuntime:
        return cls(python=spec.python)

    def launch(self, spec: LaunchSpec, *, role: str = "active", name: str | None = None) -> Handle:
        name = name or role_instance_name(spec.deployment, role)
        previous = _load_record(name)
        if previous is not None and _leader_alive(previous):
            raise DeployctlError(
                f"a process for {name} is already running (pid {previous.pid})",
                hint=f"`deployctl destroy {spec.deployment}` stops it first",
            )
        return _spawn(spec, name=name, role=role, python=self.python, fresh_log=True).handle()

    def state(self, handle: Handle) -> InstanceState:
        record = _load_record(handle.name)
        if record is None or str(record.pid) != handle.id:
            return InstanceState("missing")
        if _leader_alive(record):
            return InstanceState("running")
        child = _children.get(record.pid)
        return InstanceState("exited", child.poll() if child is not None else None)

    def logs(self, handle: Handle, *, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        path = Path(handle.log_path) if handle.log_path else settings.logs_dir() / f"{handle.name}.log"
        if not path.exists():
            return iter(())
        return _read_log(path, tail=tail, follow=follow, running=lambda: self.state(handle).running)

    def stop(self, handle: Handle, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        record = _load_record(handle.name)
        if record is not None:
            _stop_group(record, timeout)

    def start(self, handle: Handle) -> Handle:
        record = _load_record(handle.name)
        if record is None:
            raise DeployctlError(
                f"no process record for {handle.name}, so it cannot be started again",
                hint=f"run `deployctl apply` again to create deployment {handle.deployment}",
            )
        if _leader_alive(record):
            return record.handle()
        spec = LaunchSpec.model_validate(record.spec)
        return _spawn(
            spec, name=record.name, role=record.role, python=record.python, fresh_log=False, port=record.port
        ).handle()

    def remove(self, handle: Handle) -> None:
        record = _load_record(handle.name)
        if record is not None:
            _stop_group(record, DEFAULT_STOP_TIMEOUT_S)
            Path(record.log_path).unlink(missing_ok=True)
        remove_instance_dir(handle.name)

    def find(self, deployment: str | None = None) -> list[Handle]:
        root = settings.home() / "run"
        records = (_load_record(path.parent.name) for path in sorted(root.glob(f"*/{RECORD_FILE}")))
        return [r.handle() for r in records if r is not None and deployment in (None, r.deployment)]


def resolve_argv(spec: LaunchSpec, python: str | None) -> tuple[str, ...]:
    """The command line to start, or `RuntimeUnavailable` saying how to point deployctl at the engine."""
    if python:
        if not (Path(python).is_file() and os.access(python, os.X_OK)):
            raise RuntimeUnavailable(
                f"runtime.python {python} is not an executable interpreter",
                hint="point runtime.python at the python of a virtual environment that has the engine installed",
                field="runtime.python",
            )
        return spec.python_argv(python)
    # On PATH, else beside the interpreter running deployctl: `.venv/bin/deployctl apply` then finds the
    # engine installed into the same virtual environment without the venv being activated.
    program = shutil.which(spec.program[0]) or shutil.which(
        spec.program[0], path=str(Path(sys.executable).parent)
    )
    if program is None:
        raise RuntimeUnavailable(
            f"`{spec.program[0]}` is not on PATH, so {spec.engine} cannot start as a local process",
            hint="set runtime.python in the recipe to an interpreter whose environment has the engine "
            "(runtime: {kind: process, python: /path/to/venv/bin/python}), or install it on PATH",
            field="runtime.python",
        )
    return (program, *spec.program[1:], *spec.args)


def _spawn(
    spec: LaunchSpec, *, name: str, role: str, python: str | None, fresh_log: bool, port: int | None = None
) -> ProcessRecord:
    argv = resolve_argv(spec, python)
    picked = None
    if spec.port == 0:
        picked = port or free_port(spec.host)
        argv = on_port(argv, picked)
    env = {k: os.environ[k] for k in BASE_ENV if k in os.environ}
    env.update(engine_environment(spec))
    env.setdefault("PYTHONUNBUFFERED", "1")  # log lines appear as they are written
    token = secrets.token_hex(8)
    env[TOKEN_VARIABLE] = token
    ensure_port_free(spec.host, picked or spec.port)
    folder = instance_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    for generated in spec.files:
        atomic_write_text(Path(generated.target), generated.content)
    log_path = settings.logs_dir() / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # 0600: an engine's output can hold what its environment held (a key echoed in an error).
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if fresh_log else os.O_APPEND)
    log_fd = os.open(log_path, flags, 0o600)
    os.fchmod(log_fd, 0o600)  # a log created by an older deployctl was 0644
    with open(log_fd, "wb" if fresh_log else "ab") as log:
        try:
            child = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=folder, start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            raise RuntimeUnavailable(
                f"cannot start {argv[0]}: {exc.strerror}", field="runtime.python"
            ) from None
    _children[child.pid] = child
    record = ProcessRecord(
        name=name,
        deployment=spec.deployment,
        role=role,
        pid=child.pid,
        pgid=os.getpgid(child.pid),
        start_ticks=_start_ticks(child.pid) or 0,
        token=token,
        argv=argv,
        argv_hash=hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16],
        python=python,
        spec=spec.model_dump(mode="json"),
        labels=spec.labels(role),
        endpoint=endpoint_url(spec, picked),
        log_path=str(log_path),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        port=picked,
    )
    atomic_write_text(folder / RECORD_FILE, record.model_dump_json(indent=2))
    return record


def on_port(argv: tuple[str, ...], port: int) -> tuple[str, ...]:
    """`argv` with its `--port 0` (every engine adapter's flag, engines/*.py) set to `port`."""
    words = list(argv)
    for i, word in enumerate(words[:-1]):
        if word == "--port" and words[i + 1] == "0":
            words[i + 1] = str(port)
            return tuple(words)
    raise DeployctlError(
        f"the engine's command line has no `--port 0` to set to {port}: {' '.join(argv[:3])} ..."
    )


def _load_record(name: str) -> ProcessRecord | None:
    path = instance_dir(name) / RECORD_FILE
    try:
        return ProcessRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc/<pid>/stat, or None when no such pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def _start_ticks(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None:
        child.poll()


def _leader_alive(record: ProcessRecord) -> bool:
    """The recorded pid is running and is still the process we started: same start time (clock ticks
    are 10 ms, so two processes can share one) and the same command line."""
    _reap(record.pid)
    stat = _proc_stat(record.pid)
    if stat is None or stat[1] != record.start_ticks or stat[0] in ("Z", "X"):
        return False
    return _same_command(record)


def _same_command(record: ProcessRecord) -> bool:
    """The pid still carries the token deployctl put in its environment (wrappers that exec keep it;
    a recycled pid does not). Records written before tokens existed, or an unreadable environ, pass."""
    if not record.token:
        return True
    try:
        environ = Path(f"/proc/{record.pid}/environ").read_bytes()
    except OSError:
        return True
    return f"{TOKEN_VARIABLE}={record.token}".encode() in environ.split(b"\0")


def _group_is_ours(record: ProcessRecord) -> bool:
    """Safe to signal the group: its leader is ours, or gone (a live group keeps its id reserved)."""
    stat = _proc_stat(record.pid)
    return stat is None or (stat[1] == record.start_ticks and _same_command(record))


def _group_exists(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: they have exited, and only their
    parent can reap them. An engine started by a process that lives on (a program using deployctl as a
    library, a test session) and stopped by another deployctl run stays a zombie until that parent
    looks; counted, it made the stop wait out its whole timeout, then SIGKILL the dead."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(state not in ("Z", "X") for state in _group_states(pgid))


def _group_states(pgid: int) -> Iterator[str]:
    """State letters of the processes in group `pgid` (/proc/<pid>/stat: state, ppid, pgrp, ...)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            yield fields[0]


def _signal_group(record: ProcessRecord, sig: signal.Signals) -> None:
    if _group_is_ours(record):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pgid, sig)


def _stop_group(record: ProcessRecord, timeout: float) -> None:
    """SIGTERM the whole group, wait up to `timeout`, then SIGKILL what is left."""
    if not _group_is_ours(record) or not _group_exists(record.pgid):
        return
    _signal_group(record, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not _group_exists(record.pgid):
            return
        time.sleep(_POLL_S)
    _signal_group(record, signal.SIGKILL)
    for _ in range(50):  # the kernel needs a moment to tear the group down
        _reap(record.pid)
        if not _group_exists(record.pgid):
            return
        time.sleep(_POLL_S)


def _read_log(path: Path, *, tail: int | None, follow: bool, running: Any) -> Iterator[str]:
    with open(path, "rb") as log:
        if tail is None:
            lines: Any = log
        else:
            lines = deque(log, maxlen=tail) if tail > 0 else ()
        for raw in lines:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not follow:
            return
        pending = b""
        while True:
            chunk = log.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    yield pending.decode("utf-8", errors="replace").rstrip("\r\n")
                    pending = b""
                continue
            if not running():
                if pending:
                    yield pending.decode("utf-8", errors="replace").rstrip("\r\n")
                return
            time.sleep(0.2)
