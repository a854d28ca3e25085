"""What deployctl remembers about each deployment: one JSON document per name under `settings.state_dir()`.

The document says what was deployed (the recipe as data, its hash, the checkpoint, the LaunchSpec),
where it runs (the runtime `Handle`, the endpoint), the last smoke report, how long each step took,
and the last `MAX_REVISIONS` revisions (recipe hash, checkpoint key, image, spec hash, handle, time),
the current one last, for swap and rollback. `DeploymentState.record(previous, ...)` builds the
next document after an apply. It never holds a secret: the recipe carries only the *names* of variables (api_key_env),
and the LaunchSpec only names too.

Guarantees callers rely on:
- writes are atomic (temp file + os.replace): a reader sees the old or the new document, never half;
- `StateStore.lock(name)` serialises deployctl runs working on one deployment; it does not wait, it
  raises `LockHeld` naming the pid that holds it. The lock is an OS file lock (`deployctl.locks`),
  released when its holder exits however it exits, its file removed on release. It is not
  re-entrant: take it once per command;
- a damaged document is a `StateError` naming the file and the way out (`destroy --force`, `doctor`);
  `scan` reads each file on its own, so one damaged file does not hide the others;
- documents carry `version`; older ones are upgraded on load by `MIGRATIONS` (append-only: entry i
  upgrades version i+1 to i+2), newer ones are refused rather than misread.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.checkpoint import Checkpoint
from deployctl.errors import LockHeld, StateError, UsageError
from deployctl.instance import Handle
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import Recipe
from deployctl.smoke_report import SmokeReport
from deployctl.strict import StrictModel

# Append-only. MIGRATIONS[i] turns a version i+1 document (a dict) into a version i+2 one.
MIGRATIONS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = ()
STATE_VERSION = 1 + len(MIGRATIONS)
MAX_REVISIONS = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,62}$")  # the recipe's name rule; also keeps paths inside


class Revision(StrictModel):
    """One deployed version: enough to tell versions apart, and (since `recipe`/`spec` are kept) to
    serve it again from the checkpoint cache with `deployctl rollback`, without re-quantizing."""

    recipe_hash: str
    checkpoint_key: str
    image: str
    spec_hash: str
    handle: Handle | None = None
    at: datetime
    recipe: dict[str, Any] | None = None  # None in documents written before rollback existed
    checkpoint_path: str | None = None
    spec: LaunchSpec | None = None


class DeploymentState(StrictModel):
    version: int = STATE_VERSION
    name: str
    recipe_path: str | None = None
    recipe_hash: str
    recipe: dict[str, Any]  # Recipe.model_dump(mode="json"): names of secret variables, never values
    checkpoint_key: str
    checkpoint_path: str
    spec: LaunchSpec
    handle: Handle
    endpoint: str
    smoke: SmokeReport | None = None
    timings: dict[str, float] = Field(default_factory=dict, description="step → seconds")
    created_at: datetime
    updated_at: datetime
    revisions: tuple[Revision, ...] = ()

    @property
    def spec_hash(self) -> str:
        return self.spec.spec_hash()

    @property
    def previous_revision(self) -> Revision | None:
        """The revision that served before the current one (what a rollback goes back to)."""
        return self.revisions[-2] if len(self.revisions) >= 2 else None

    @classmethod
    def record(
        cls,
        previous: DeploymentState | None,
        *,
        recipe: Recipe,
        recipe_path: str | None,
        recipe_hash: str,
        checkpoint: Checkpoint,
        spec: LaunchSpec,
        handle: Handle,
        timings: dict[str, float] | None = None,
        smoke: SmokeReport | None = None,
        endpoint: str | None = None,
    ) -> DeploymentState:
        """The state after a successful apply: `previous` carried forward, this revision appended.

        `revisions` ends with the current revision; re-applying the same recipe, checkpoint and spec
        (a restart) updates that entry instead of adding a duplicate.
        """
        at = now()
        revision = Revision(
            recipe_hash=recipe_hash,
            checkpoint_key=checkpoint.key,
            image=spec.image,
            spec_hash=spec.spec_hash(),
            handle=handle,
            at=at,
            recipe=recipe.model_dump(mode="json"),
            checkpoint_path=str(checkpoint.path),
            spec=spec,
        )
        history = list(previous.revisions) if previous else []
        if history and _same_version(history[-1], revision):
            history.pop()
        return cls(
            name=recipe.name,
            recipe_path=recipe_path,
            recipe_hash=recipe_hash,
            recipe=recipe.model_dump(mode="json"),
            checkpoint_key=checkpoint.key,
            checkpoint_path=str(checkpoint.path),
            spec=spec,
            handle=handle,
            endpoint=endpoint or handle.endpoint,  # a front's public URL, when one owns the port
            smoke=smoke,
            timings=dict(timings or {}),
            created_at=previous.created_at if previous else at,
            updated_at=at,
            revisions=tuple([*history, revision][-MAX_REVISIONS:]),
        )


def _same_version(a: Revision, b: Revision) -> bool:
    return (a.recipe_hash, a.checkpoint_key, a.spec_hash) == (b.recipe_hash, b.checkpoint_key, b.spec_hash)


def recipe_hash(recipe: Recipe) -> str:
    """Content hash of a recipe as data (key order and YAML formatting do not matter)."""
    payload = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def now() -> datetime:
    return datetime.now(timezone.utc)


class StateStore:
    """Load, save, list and lock deployment documents. `root` defaults to `settings.state_dir()`."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else settings.state_dir()

    def path(self, name: str) -> Path:
        return self.root / f"{_checked_name(name)}.json"

    def load(self, name: str) -> DeploymentState | None:
        """The document, upgraded to the current version; None when no such deployment.

        Anything wrong with the file (unreadable bytes, cut short, wrong shape) is a `StateError`
        naming the file and the way out, never an exception of another kind."""
        path = self.path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(
                f"cannot read deployment state: {exc.strerror}", file=path, hint=way_out(name)
            ) from None
        return _parse(path, raw)

    def scan(self) -> tuple[list[DeploymentState], list[StateError]]:
        """Every readable document, and an error for each one that is not: one broken file must not
        hide the others (`status`, `list` and `doctor` show it as broken)."""
        states, broken = [], []
        for name in self.names():
            try:
                state = self.load(name)
            except StateError as exc:
                broken.append(exc)
                continue
            if state is not None:
                states.append(state)
        return states, broken

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if _NAME.match(p.stem))

    def lock_path(self, name: str) -> Path:
        return self.root / ".locks" / f"{_checked_name(name)}.lock"

    def lock_holder(self, name: str) -> int | None:
        """The pid of the deployctl working on `name` now (0: unknown pid), or None; takes nothing."""
        from deployctl.locks import holder

        return holder(self.lock_path(name))

    def save(self, state: DeploymentState) -> DeploymentState:
        """Write atomically, stamping `updated_at`; returns what was written."""
        state = state.model_copy(update={"updated_at": now()})
        atomic_write_text(self.path(state.name), state.model_dump_json(indent=2) + "\n")
        return state

    def delete(self, name: str) -> bool:
        """Forget a deployment; False when there was nothing to forget."""
        path = self.path(name)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def list(self) -> list[DeploymentState]:
        """Every document; raises on the first unreadable one (`scan` reports them instead)."""
        return [state for state in map(self.load, self.names()) if state is not None]

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the deployment's lock for the block, or raise `LockHeld` at once naming the holder."""
        from deployctl.locks import Held, exclusive

        lock_path = self.lock_path(name)
        try:
            with exclusive(lock_path):
                yield
        except Held as held:
            who = f"pid {held.pid}" if held.pid else "another process"
            raise LockHeld(
                f"another deployctl ({who}) is working on deployment {name}",
                hint="wait for it to finish; the lock is released as soon as that process exits",
                file=lock_path,
            ) from None


def way_out(name: str) -> str:
    return (
        f"`deployctl destroy {name} --force` removes its engines and this file; `deployctl doctor` lists "
        "every broken state file (or restore the file from a backup)"
    )


def _parse(path: Path, raw: bytes) -> DeploymentState:
    """Bytes → document, each way it can be wrong named as such (see `load`)."""
    name = path.stem
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StateError(
            f"deployment state is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}): the file "
            "is damaged", file=path, hint=way_out(name),
        ) from None  # fmt: skip
    except json.JSONDecodeError as exc:
        short = exc.pos >= len(exc.doc.rstrip())
        what = "cut short (the file ends mid-document)" if short else "not valid JSON"
        raise StateError(f"deployment state is {what}: {exc}", file=path, hint=way_out(name)) from None
    except RecursionError:
        raise StateError(
            "deployment state nests too deeply to be a document", file=path, hint=way_out(name)
        ) from None
    if not isinstance(data, dict):
        raise StateError(
            f"deployment state holds {_kind(data)}, not a deployment document: the file is damaged",
            file=path, hint=way_out(name),
        )  # fmt: skip
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateError(
            f"deployment state has version {version!r}, which no deployctl writes: the file is damaged",
            file=path, field="version", hint=way_out(name),
        )  # fmt: skip
    if version > STATE_VERSION:
        raise StateError(
            f"deployment state has version {version}; this deployctl reads versions 1..{STATE_VERSION}",
            file=path, hint="upgrade deployctl to the version that wrote it",
        )  # fmt: skip
    for migrate in MIGRATIONS[version - 1 :]:
        data = migrate(data)
    data["version"] = STATE_VERSION
    try:
        return DeploymentState.model_validate(data)
    except (ValidationError, ValueError, TypeError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"msg": str(exc), "loc": ()}
        raise StateError(
            f"deployment state is malformed: {first['msg']}",
            file=path, field=".".join(map(str, first["loc"])) or None, hint=way_out(name),
        ) from None  # fmt: skip


def _kind(data: object) -> str:
    return "null" if data is None else f"a {type(data).__name__}"


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"'{name}' is not a deployment name",
            hint="names are lowercase letters, digits, '.', '_' and '-' (the recipe's name)",
        )
    return name
