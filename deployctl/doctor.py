"""`deployctl doctor`: what is wrong with deployctl's own files, why, and the way out.

It reads each state document on its own (`StateStore.scan`) and looks at the lock folder:
- a damaged state document (cut short, not UTF-8, wrong shape) blocks nothing else, but its
  deployment can only be removed: `deployctl destroy NAME --force`;
- a lock file nobody holds is left by a deployctl killed outright (or by an older deployctl, which
  also wrote `.pid` files): harmless, removed with `--fix`;
- a lock held now is an apply in flight, named by its pid: not a problem;
- a `.NAME.json.*` temp file is a write interrupted before its rename: removed with `--fix`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from deployctl.locks import holder
from deployctl.state import StateStore


@dataclass(frozen=True)
class Problem:
    kind: str  # broken-state | stale-lock | in-flight | temp-file
    path: str
    message: str
    fix: str
    fixable: bool  # `doctor --fix` removes it (never a state document: destroy --force does)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def diagnose(store: StateStore | None = None) -> list[Problem]:
    store = store or StateStore()
    _, broken = store.scan()
    problems = [
        Problem("broken-state", str(error.file), error.message, error.hint or "", fixable=False)
        for error in broken
    ]
    locks = store.root / ".locks"
    for path in sorted(locks.glob("*")) if locks.is_dir() else []:
        problems.append(_lock_problem(path))
    for path in sorted(store.root.glob(".*.json.*")) if store.root.is_dir() else []:
        problems.append(
            Problem("temp-file", str(path), "a state write was interrupted before its rename",
                    "`deployctl doctor --fix` removes it", fixable=True)
        )  # fmt: skip
    return problems


def fix(problems: list[Problem]) -> list[str]:
    """Remove what is safe to remove; a lock taken meanwhile is left alone."""
    removed = []
    for problem in problems:
        path = Path(problem.path)
        if problem.fixable and (problem.kind != "stale-lock" or holder(_lock_of(path)) is None):
            path.unlink(missing_ok=True)
            removed.append(problem.path)
    return removed


def _lock_problem(path: Path) -> Problem:
    pid = holder(_lock_of(path))
    if pid is not None:
        who = f"pid {pid}" if pid else "a deployctl that wrote no pid"
        return Problem("in-flight", str(path), f"held by {who}: an apply or destroy is running",
                       "nothing to do; it is released when that process exits", fixable=False)  # fmt: skip
    return Problem("stale-lock", str(path), "nobody holds this lock (left by a deployctl that was killed)",
                   "harmless; `deployctl doctor --fix` removes it", fixable=True)  # fmt: skip


def _lock_of(path: Path) -> Path:
    """A `.pid` file written by older deployctl belongs to the `.lock` beside it."""
    return path.with_suffix(".lock") if path.suffix == ".pid" else path
