"""One deployctl at a time per deployment: an OS file lock that says who holds it and leaves no file.

`<state>/.locks/<name>.lock` holds the holder's pid while it is held. `flock` is released by the OS
when the holder exits however it exits, so a crash never leaves a deployment locked; and the holder
removes the file before releasing it, so no lock files pile up. Removing a lock file races with a
process that opened it just before: that process would lock the removed file while a third locks a
new one. The check after acquiring closes the race: a lock counts only if the path still names the
file that was locked (the classic flock + unlink protocol).

`holder(path)` tells a reader (`plan`) whether an `apply` is in flight, and by which pid, without
creating or taking anything.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Held(Exception):
    """The lock is held by another process; `pid` when it wrote one."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold `path`'s lock for the block, or raise `Held` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Held(read_pid(path)) from None
        if _still_named(fd, path):
            break
        os.close(fd)  # locked a file another holder removed on release: try the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # while still holding it: see the module docstring
        os.close(fd)


def holder(path: Path) -> int | None:
    """The pid holding `path`'s lock (0 when it wrote none), or None when nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(path) or 0
    finally:
        os.close(fd)
    return None


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _still_named(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
