"""Where deployctl keeps things, read from the environment when asked (never frozen at import).

Tests point everything at a temporary folder with `monkeypatch.setenv("DEPLOYCTL_HOME", ...)`.
"""

from __future__ import annotations

import os
from pathlib import Path


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def home() -> Path:
    """Root of state and cache: `$DEPLOYCTL_HOME`, else the XDG data folder."""
    if explicit := os.environ.get("DEPLOYCTL_HOME"):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "deployctl"


def state_dir() -> Path:
    """One JSON document per deployment lives here."""
    return home() / "state"


def cache_dir() -> Path:
    """Quantized checkpoints, keyed by content hash: `$DEPLOYCTL_CACHE`, else under home()."""
    if explicit := os.environ.get("DEPLOYCTL_CACHE"):
        return Path(explicit).expanduser()
    return home() / "checkpoints"


def logs_dir() -> Path:
    """Logs of engines started by the process runtime."""
    return home() / "logs"


def debug() -> bool:
    """Show tracebacks for errors (`--debug` sets this too)."""
    return _truthy(os.environ.get("DEPLOYCTL_DEBUG"))


def hub_offline() -> bool:
    """Hugging Face's own offline switch, honoured by every hub access."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache that containers get mounted (same rules as huggingface_hub)."""
    if explicit := os.environ.get("HF_HUB_CACHE"):
        return Path(explicit).expanduser()
    hf_home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(hf_home).expanduser() / "hub"


def drain_s() -> float:
    """After a blue-green swap moved the name, clients that resolved it just before still reach the old
    engine this long before it stops: `$DEPLOYCTL_DRAIN_S` seconds (default 2)."""
    return float(os.environ.get("DEPLOYCTL_DRAIN_S", "2"))
