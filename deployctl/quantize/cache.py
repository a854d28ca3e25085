"""The checkpoint cache: content-addressed folders under `settings.cache_dir()`.

Layout:
    <cache>/<key>/                    a complete export (manifest.json written last, then renamed in)
    <cache>/.tmp-<key>-<pid>-<rand>/  work in progress; never read, removed on the next run or by gc
    <cache>/.locks/<key>.lock         one quantizer per key; others wait, then reuse its result
    <cache>/generated/                tiny generated base models (not checkpoints)

A lookup reads one small JSON file and imports no torch, so a hit costs milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from deployctl import settings
from deployctl.errors import StateError, UsageError
from deployctl.quantize.manifest import Manifest, read_manifest

KEY_LENGTH = 24  # hex digits of sha256: 96 bits
TMP_PREFIX = ".tmp-"
RESERVED = {"generated", ".locks"}


def modelopt_version() -> str:
    """Installed nvidia-modelopt version, read from metadata (no import)."""
    try:
        return metadata.version("nvidia-modelopt")
    except metadata.PackageNotFoundError:
        return "not-installed"


def cache_key(inputs: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the key inputs (model content, format, KV, calibration, modelopt)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]


def checkpoint_dir(key: str) -> Path:
    return settings.cache_dir() / key


def lookup(key: str) -> Manifest | None:
    """The manifest of a complete cached checkpoint, or None (a folder without a valid one is ignored)."""
    folder = checkpoint_dir(key)
    return read_manifest(folder) if folder.is_dir() else None


@contextmanager
def key_lock(key: str, *, on_wait: Any = None) -> Iterator[None]:
    """Hold the per-key lock; `on_wait()` is called once if another process holds it."""
    from filelock import FileLock, Timeout

    locks = settings.cache_dir() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(locks / f"{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def new_work_dir(key: str) -> Path:
    """A fresh temp folder inside the cache (same filesystem, so the final rename is atomic)."""
    root = settings.cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=root))


def remove_stale_work_dirs(key: str) -> int:
    """Call with the key's lock held: any temp folder for the key is left by a killed run."""
    removed = 0
    for stale in settings.cache_dir().glob(f"{TMP_PREFIX}{key}-*"):
        shutil.rmtree(stale, ignore_errors=True)
        removed += 1
    return removed


def publish(work_dir: Path, key: str) -> Path:
    """Rename a complete work folder into place; an invalid leftover under the key is replaced."""
    target = checkpoint_dir(key)
    if target.exists():
        shutil.rmtree(target)
    work_dir.rename(target)
    return target


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    manifest: Manifest | None  # None: incomplete or invalid (gc removes it)
    size_bytes: int
    age_s: float


def list_entries() -> list[CacheEntry]:
    """Every checkpoint folder and leftover, newest first."""
    root = settings.cache_dir()
    if not root.is_dir():
        return []
    entries = []
    now = time.time()
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in RESERVED:
            continue
        manifest = None if folder.name.startswith(TMP_PREFIX) else read_manifest(folder)
        size = manifest.size_bytes if manifest else folder_size(folder)
        created = manifest.created_at if manifest else folder.stat().st_mtime
        entries.append(CacheEntry(folder.name, folder, manifest, size, max(0.0, now - created)))
    return sorted(entries, key=lambda e: e.age_s)


def remove_entry(key_prefix: str) -> CacheEntry:
    """Delete one checkpoint by key or unique key prefix."""
    matches = [e for e in list_entries() if e.key.startswith(key_prefix) and e.manifest is not None]
    if not matches:
        raise UsageError(f"no cached checkpoint with key {key_prefix!r}", hint="see `deployctl cache ls`")
    if len(matches) > 1:
        raise UsageError(
            f"key prefix {key_prefix!r} matches {len(matches)} checkpoints", hint="give more of the key"
        )
    entry = matches[0]
    with key_lock(entry.key, on_wait=lambda: None):
        shutil.rmtree(entry.path)
    return entry


def garbage_collect() -> list[CacheEntry]:
    """Remove folders without a valid manifest (killed runs, hand edits) whose key lock is free."""
    from filelock import Timeout

    removed = []
    for entry in list_entries():
        if entry.manifest is not None:
            continue
        key = entry.key.removeprefix(TMP_PREFIX)[:KEY_LENGTH]
        try:
            with _try_lock(key):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry)
        except Timeout:
            continue  # a quantizer is writing it right now
        except OSError as exc:
            raise StateError(f"cannot remove {entry.path}: {exc}") from exc
    return removed


@contextmanager
def _try_lock(key: str) -> Iterator[None]:
    from filelock import FileLock

    locks = settings.cache_dir() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{key}.lock"), timeout=0):
        yield


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
