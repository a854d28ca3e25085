"""Task scores kept per deployment and checkpoint, so that a swap evaluates only the candidate.

`<home>/quality/<deployment>/<checkpoint key>-<fingerprint>.json` holds one `TaskResults`. The
fingerprint (quality.tasks.fingerprint) covers the tasks, their settings and files and lm-eval's version,
so a changed task set never compares against stale scores. Every evaluation deployctl runs (the
serving engine's, a candidate's, `deployctl eval NAME`) is kept: a candidate that is promoted brings its
scores along as the next swap's baseline. Files are written atomically; no secret is ever in them.
"""

from __future__ import annotations

import re
from pathlib import Path

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.quality.scores import TaskResults


def results_path(deployment: str, checkpoint: str, fingerprint: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", checkpoint)  # base models are keyed "local:<hash>"
    return settings.home() / "quality" / deployment / f"{safe}-{fingerprint}.json"


def load(deployment: str, checkpoint: str, fingerprint: str) -> TaskResults | None:
    """The kept scores, or None when missing or unreadable (then they are measured again)."""
    path = results_path(deployment, checkpoint, fingerprint)
    try:
        return TaskResults.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(deployment: str, results: TaskResults) -> Path | None:
    """Keep `results` under the checkpoint it measured; scores of an unknown checkpoint are not kept."""
    if not results.checkpoint:
        return None
    path = results_path(deployment, results.checkpoint, results.fingerprint)
    atomic_write_text(path, results.model_dump_json(indent=2) + "\n")
    return path
