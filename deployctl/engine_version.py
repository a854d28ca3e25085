"""Engine versions as values: parse "0.24.0" / "1.3.0rc24", and match them against "<0.33" style ranges.

Pure and tiny on purpose (no `packaging` import at CLI start): capability rows and checkpoint rules
carry ranges, and the judge compares the version that will run against them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_RELEASE = re.compile(r"^v?(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<)\s*(\S+)$")
_PRE = {"a": 0, "b": 1, "rc": 2}


def version_key(version: str) -> tuple[tuple[int, ...], tuple[int, int]]:
    """Comparable form: release numbers padded to 3, then pre-release (a < b < rc < final).

    Local parts and suffixes are ignored ("0.24.0+cu130" is 0.24.0). ValueError when not a version.
    """
    match = _RELEASE.match(version.strip())
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    release = tuple(int(part) for part in match[1].split("."))
    release = release + (0,) * (3 - len(release))
    pre = (_PRE[match[2]], int(match[3])) if match[2] else (3, 0)
    return release, pre


def is_version(text: str | None) -> bool:
    try:
        version_key(text or "")
    except ValueError:
        return False
    return True


def version_matches(version: str | None, spec: str | None) -> bool:
    """True when `version` is inside `spec` ("", None or "any" match everything, an unknown version too)."""
    if not spec or spec.strip() == "any":
        return True
    if version is None or not is_version(version):
        return False
    key = version_key(version)
    for clause in spec.split(","):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            raise ValueError(f"not a version range: {spec!r}")
        operator, bound = match[1], version_key(match[2])
        if not _compare(key, operator, bound):
            return False
    return True


def _compare(key: tuple, operator: str, bound: tuple) -> bool:
    return {
        ">=": key >= bound,
        "<=": key <= bound,
        ">": key > bound,
        "<": key < bound,
        "==": key == bound,
        "!=": key != bound,
    }[operator]


class JudgedVersion(BaseModel):
    """The engine version a verdict was judged for, where that came from, and a warning when the
    version that will run is unknown (then `version` is the pinned one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str
    version: str
    source: str  # "pinned image docker.io/vllm/vllm-openai:v0.33.0", "runtime.python /v/bin/python", ...
    warning: str | None = None

    def label(self) -> str:
        return f"{self.engine} {self.version} ({self.source})"
