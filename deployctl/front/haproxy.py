"""The front as a local HAProxy process: start, supervise, switch upstreams over its runtime API, stop.

One front per deployment, a labelled instance like an engine: `<home>/run/deployctl-<name>-front/`
holds its haproxy.cfg, its admin socket and its record (`front.json`: pid, process group, start time,
identity token, argv, the FrontSpec), kept by the process runtime's rules (runtimes/process.py): a
pid counts as ours only while its start time and the token in its environment match the record, so
a recycled pid is never signalled. The record is not a `process.json`, so the engine runtime's
`find()` never mistakes the front for an engine.

Switching goes through the runtime API on the admin socket, never a reload (HAProxy 2.6 management
guide, section 9.3 "Unix Socket commands"; docs/front.md lists each command used):
- `set server <backend>/<server> addr <ip> port <port>`: point a slot at an engine;
- `enable server` / `disable server`: take a slot out of / put it into maintenance (no new requests;
  requests in flight continue);
- `set server <backend>/<server> state drain`: no new requests, in-flight ones finish;
- `show stat`: per-slot status (UP, DOWN, MAINT, DRAIN), address and current sessions (`scur`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.errors import DeployctlError, EngineStartFailed, RuntimeUnavailable
from deployctl.front.config import BACKEND, KEY_VARIABLE, SLOTS, FrontSpec, render_config
from deployctl.launch_spec import LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_ROLE
from deployctl.runtimes.base import ensure_port_free
from deployctl.runtimes.process import (
    TOKEN_VARIABLE,
    ProcessRecord,
    _group_exists,
    _leader_alive,
    _reap,
    _start_ticks,
    _stop_group,
)

RECORD_FILE = "front.json"
CONFIG_FILE = "haproxy.cfg"
SOCKET_FILE = "admin.sock"
ROLE = "front"
INSTALL_HINT = (
    "install HAProxy (Debian/Ubuntu: `sudo apt-get install haproxy`; Fedora: `sudo dnf install haproxy`), "
    "or set serve.front: none (a swap then stops the engine before the new one answers)"
)
SBIN_PATH = "/usr/sbin:/usr/local/sbin"  # Debian installs haproxy here, off a normal user's PATH
DRAIN_GRACE_S = 30.0  # a replaced front process finishes its requests in flight within this, or is stopped
_SOCKET_MAX = 107  # sun_path is 108 bytes on Linux, NUL included
_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")


@dataclass(frozen=True)
class SlotState:
    """One backend slot as `show stat` reports it."""

    slot: str
    status: str  # UP, DOWN, MAINT, DRAIN, "no check" ...
    address: str  # ip:port
    sessions: int

    @property
    def serving(self) -> bool:
        """Takes requests or finishes them: anything but maintenance (without checks: "no check")."""
        return not self.status.startswith(("MAINT", "DOWN"))


@dataclass(frozen=True)
class FrontObservation:
    """What runs: the front's record (None: never started or removed) and whether its pid lives."""

    running: bool
    identity: str | None  # FrontSpec.identity() it was started with
    upstreams: tuple[str, ...]  # "ip:port" of the slots that take traffic now
    public_url: str | None


def front_name(deployment: str) -> str:
    return f"deployctl-{deployment}-front"


def front_dir(deployment: str) -> Path:
    return settings.home() / "run" / front_name(deployment)


def socket_path(deployment: str) -> str:
    path = str(front_dir(deployment) / SOCKET_FILE)
    if len(path.encode()) > _SOCKET_MAX:
        raise DeployctlError(
            f"the front's admin socket path is {len(path)} bytes, more than a Unix socket allows: {path}",
            hint="set DEPLOYCTL_HOME to a shorter folder",
        )
    return path


def haproxy_binary() -> str:
    """The haproxy on PATH, or `RuntimeUnavailable` saying how to install it."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path=SBIN_PATH)
    if found is None:
        raise RuntimeUnavailable(
            "the front needs HAProxy, and `haproxy` is not on PATH", hint=INSTALL_HINT, field="serve.front"
        )
    return found


class HaproxyFront:
    """The front of one deployment."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        self.folder = front_dir(deployment)

    # -- observe ---------------------------------------------------------------------------------
    def record(self) -> ProcessRecord | None:
        try:
            return ProcessRecord.model_validate_json((self.folder / RECORD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def observe(self) -> FrontObservation | None:
        record = self.record()
        if record is None:
            return None
        running = _leader_alive(record)
        upstreams: tuple[str, ...] = ()
        if running:
            with contextlib.suppress(DeployctlError):
                upstreams = tuple(s.address for s in self.slots() if s.serving)
        return FrontObservation(
            running=running,
            identity=record.spec.get("identity"),
            upstreams=upstreams,
            public_url=record.endpoint,
        )

    def slots(self) -> list[SlotState]:
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        column = {name: i for i, name in enumerate(header)}
        found = []
        for line in lines[1:]:
            cells = line.split(",")
            if len(cells) > column["addr"] and cells[0] == BACKEND and cells[1] in SLOTS:
                found.append(
                    SlotState(
                        slot=cells[1],
                        status=cells[column["status"]],
                        address=cells[column["addr"]],
                        sessions=int(cells[column["scur"]] or 0),
                    )
                )
        return found

    # -- start / stop ----------------------------------------------------------------------------
    def start(self, spec: FrontSpec, *, key: str | None, upstream: tuple[str, int]) -> ProcessRecord:
        """Start the front routing to `upstream` (host, port). A front already running hands its
        listening socket over (`-x <its admin socket> -sf <its pid>`, management guide §3): the new
        process takes the socket, the old one finishes its requests and leaves; no connection is
        refused in between."""
        binary = haproxy_binary()
        if spec.require_key and not key:
            raise DeployctlError("the front needs the API key, and its variable is empty or unset")
        old = self.record()
        if old is not None and not _leader_alive(old):
            self.remove()
            old = None
        token = secrets.token_hex(8)
        env = {k: os.environ[k] for k in _ENV if k in os.environ} | {TOKEN_VARIABLE: token}
        if key:
            env[KEY_VARIABLE] = key  # HAProxy's environment only: read by the cfg's "${...}"
        config = self._write_config(binary, render_config(spec.routed_to(*upstream)), env)
        takeover: tuple[str, ...] = ()
        if old is None:
            ensure_port_free(spec.bind_host, spec.bind_port)
        else:
            takeover = ("-x", str(self.folder / SOCKET_FILE), "-sf", str(old.pid))
        record = self._spawn((binary, "-db", "-f", str(config), *takeover), env, spec, token)
        if old is not None:
            _wait_finished(old, DRAIN_GRACE_S)
        return record

    def _write_config(self, binary: str, text: str, env: dict[str, str]) -> Path:
        """haproxy.cfg, checked by `haproxy -c` before it replaces the file a running front read."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staged, config = self.folder / f"{CONFIG_FILE}.new", self.folder / CONFIG_FILE
        atomic_write_text(staged, text)
        _check_config(binary, staged, env)
        os.replace(staged, config)
        return config

    def _spawn(
        self, argv: tuple[str, ...], env: dict[str, str], spec: FrontSpec, token: str
    ) -> ProcessRecord:
        """Start HAProxy in its own session (it outlives deployctl), record it, wait until it answers."""
        log_path = settings.logs_dir() / f"{front_name(self.deployment)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=self.folder, start_new_session=True, close_fds=True,
            )  # fmt: skip
        from deployctl.runtimes import process

        process._children[child.pid] = child  # reaped like the engines this run starts
        record = ProcessRecord(
            name=front_name(self.deployment), deployment=self.deployment, role=ROLE,
            pid=child.pid, pgid=os.getpgid(child.pid), start_ticks=_start_ticks(child.pid) or 0,
            token=token, argv=argv, argv_hash=hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16],
            python=None, spec={**spec.model_dump(mode="json"), "identity": spec.identity()},
            labels={LABEL_MANAGED: "true", LABEL_DEPLOYMENT: self.deployment, LABEL_ROLE: ROLE},
            endpoint=spec.public_url, log_path=str(log_path),
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip
        atomic_write_text(self.folder / RECORD_FILE, record.model_dump_json(indent=2))
        self._wait_ready(child, log_path)
        return record

    def remove(self) -> None:
        """Stop the front and delete its files; idempotent."""
        record = self.record()
        if record is not None:
            _stop_group(record, 5.0)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _wait_ready(self, child: subprocess.Popen[bytes], log_path: Path, deadline_s: float = 10.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise EngineStartFailed(
                    f"the front (haproxy) exited with code {child.returncode} at start",
                    log_tail=_tail(log_path),
                )
            with contextlib.suppress(DeployctlError):
                self.command("show info")
                return
            time.sleep(0.05)
        raise EngineStartFailed(
            f"the front did not answer on {self.folder / SOCKET_FILE} within {deadline_s:g} s"
        )

    # -- switch ----------------------------------------------------------------------------------
    def route(self, host: str, port: int, *, drain_timeout_s: float) -> float:
        """Send every new request to host:port and none elsewhere; returns seconds spent draining.

        The new slot takes traffic before the old one stops taking it, so some slot is always up; the
        old slot drains (its requests in flight finish, up to `drain_timeout_s`) before it is disabled.
        """
        self.switch(host, port)
        return self.settle(drain_timeout_s=drain_timeout_s)

    def switch(self, host: str, port: int) -> None:
        """New requests go to host:port from now on; the other slot drains (see `settle`)."""
        target = f"{host}:{port}"
        slots = {s.slot: s for s in self.slots()}
        chosen = next((s for s in slots.values() if s.address == target and s.serving), None)
        if chosen is None:
            chosen = next((s for s in slots.values() if not s.serving), None) or min(
                slots.values(), key=lambda s: s.sessions
            )
            self.command(f"set server {BACKEND}/{chosen.slot} addr {host} port {port}")
            self.command(f"enable server {BACKEND}/{chosen.slot}")
        elif chosen.status == "DRAIN":
            self.command(f"set server {BACKEND}/{chosen.slot} state ready")
        for other in slots.values():
            if other.slot != chosen.slot and other.status not in ("MAINT", "DRAIN"):
                self.command(f"set server {BACKEND}/{other.slot} state drain")

    def settle(self, *, drain_timeout_s: float) -> float:
        """Wait for draining slots to finish their requests in flight, then disable them; seconds waited."""
        return self._retire([s.slot for s in self.slots() if s.status == "DRAIN"], drain_timeout_s)

    def hold(self, *, drain_timeout_s: float) -> float:
        """Take every slot out of service after its requests in flight finish: new requests get 503."""
        return self._retire(list(SLOTS), drain_timeout_s)

    def _retire(self, slots: list[str], drain_timeout_s: float) -> float:
        tick = time.perf_counter()
        active = [s.slot for s in self.slots() if s.slot in slots and s.status != "MAINT"]
        for slot in active:
            self.command(f"set server {BACKEND}/{slot} state drain")
        deadline = time.monotonic() + drain_timeout_s
        while active and time.monotonic() < deadline:
            if all(s.sessions == 0 for s in self.slots() if s.slot in active):
                break
            time.sleep(0.05)
        for slot in active:
            self.command(f"disable server {BACKEND}/{slot}")
        return time.perf_counter() - tick

    # -- runtime API -----------------------------------------------------------------------------
    def command(self, line: str, timeout_s: float = 5.0) -> str:
        """One runtime-API command over the admin socket; its answer (raises on a refusal)."""
        path = self.folder / SOCKET_FILE
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout_s)
                conn.connect(str(path))
                conn.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise DeployctlError(f"the front of {self.deployment} does not answer on {path}: {exc}") from None
        answer = b"".join(chunks).decode(errors="replace")
        first = answer.lstrip().split("\n", 1)[0].lower()
        if first.startswith(("unknown command", "no such", "require", "invalid", "permission denied")):
            raise DeployctlError(f"the front refused `{line}`: {answer.strip()}")
        return answer


def _wait_finished(old: ProcessRecord, grace_s: float) -> None:
    """The replaced front got SIGUSR1 (`-sf`): it finishes its requests in flight and exits by itself;
    after `grace_s` it is stopped."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(old.pid)
        if not _group_exists(old.pgid):
            return
        time.sleep(0.05)
    _stop_group(old, 5.0)


def _check_config(binary: str, config: Path, env: dict[str, str]) -> None:
    """`haproxy -c`: a config the binary would refuse is reported before anything stops."""
    done = subprocess.run(
        [binary, "-c", "-q", "-f", str(config)], env=env, capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        raise EngineStartFailed(
            f"HAProxy refused the front's configuration {config}",
            log_tail=(done.stdout + done.stderr).strip(),
        )


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
