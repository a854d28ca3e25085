"""A tune result → a profile row appended to a profiles file (`deployctl tune --write-profile PATH`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from deployctl.atomic import atomic_write_text
from deployctl.capability.profiles import Profile, ProfileFile, ProfileKey, load_profiles, release


def profile_row(result: dict[str, Any], key: ProfileKey, *, machine: str, source: str) -> Profile | None:
    """The winner as a profile (None when the defaults stayed best: nothing to record)."""
    if not result.get("options") or not result.get("default_tok_s") or not result.get("default_cn_tok_s"):
        return None
    gpu = key.gpu.lower().replace(" ", "-")
    ident = f"{gpu}-{key.engine}-{release(key.engine_version)}-{key.format.value}"
    ident += f"-kv-{key.kv_cache.value}" if key.kv_cache.value != "none" else ""
    return Profile.model_validate(
        {
            "id": f"{ident}-{key.shape_class}",
            "match": {
                "gpu": key.gpu, "engine": key.engine, "engine_version": key.engine_version,
                "format": key.format, "kv_cache": key.kv_cache, "shape_class": key.shape_class,
            },
            "options": result["options"],
            "measured": {
                "date": dt.date.today().isoformat(), "machine": machine, "source": source,
                "concurrency": result["concurrency"], "default_tok_s": result["default_tok_s"],
                "tuned_tok_s": result["tuned_tok_s"], "default_cn_tok_s": result["default_cn_tok_s"],
                "tuned_cn_tok_s": result["tuned_cn_tok_s"],
                "greedy_outputs_match": result["greedy_outputs_match"],
            },
        }
    )  # fmt: skip


def write_profile(path: Path, profile: Profile) -> None:
    """Add or replace (same id) the row; the file's other rows are kept, validated again on load."""
    rows = [p for p in load_profiles(path) if p.id != profile.id] + [profile]
    ProfileFile(profiles=tuple(rows))  # validates ids are unique
    header = ""
    if path.is_file():
        header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    body = yaml.safe_dump(
        {"profiles": [p.model_dump(mode="json") for p in rows]}, sort_keys=False, allow_unicode=True
    )
    atomic_write_text(path, header + body)
