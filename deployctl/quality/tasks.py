"""The offline lm-eval task set shipped in the package, and the fingerprint of what an evaluation runs.

The shipped tasks are lm-eval task YAML over JSONL files in `deployctl/data/lm_eval/`, built from the
shipped corpus (tests/quality/local_task_data.py). lm-eval's `json` loader needs the data files as
absolute paths (`dataset_kwargs.data_files`), which a package cannot write in advance, so `materialize`
writes the YAML into a folder of the caller's with `DATA_DIR` replaced by where the package's data is;
that folder is then lm-eval's `include_path`.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from deployctl.recipe.model import TaskQualitySpec

SHIPPED_TASKS = ("deployctl_cloze", "deployctl_next_word")
PLACEHOLDER = "DATA_DIR"


def data_dir() -> Path:
    """The package's lm_eval data folder on disk (package data is installed as plain files)."""
    return Path(str(resources.files("deployctl.data").joinpath("lm_eval")))


def materialize(folder: Path) -> Path:
    """Write the shipped task YAML into `folder` with absolute data paths; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    source = data_dir()
    for config in sorted(source.glob("*.yaml")):
        text = config.read_text(encoding="utf-8").replace(PLACEHOLDER, source.as_posix())
        (folder / config.name).write_text(text, encoding="utf-8")
    return folder


def fingerprint(spec: TaskQualitySpec, lm_eval_version: str) -> str:
    """16 hex digits over everything a score depends on besides the model: the task names and
    settings, the shipped task files, the user's include_path files and lm-eval's version. Two
    evaluations compare only when their fingerprints match."""
    digest = hashlib.sha256()
    settings = {
        "tasks": list(spec.tasks),
        "limit": spec.limit,
        "num_fewshot": spec.num_fewshot,
        "chat": spec.chat,
        "lm_eval": lm_eval_version,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    folders = [data_dir()] + ([spec.include_path] if spec.include_path else [])
    for folder in folders:
        for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]
