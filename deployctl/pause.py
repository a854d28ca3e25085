"""Test hook: with DEPLOYCTL_TEST_PAUSE_AT=<step> deployctl prints "paused at <step>" on stderr and
sleeps there, so a test can SIGKILL it at a known point of an apply or a swap.

Steps (`PAUSE_STEPS`): `locked` (apply holds the lock), `checkpoint` (the checkpoint exists),
`stopped` (replace stopped the old engine), `launched`, `smoked`, `attached` (blue-green put the new
engine on the network), `switched` (blue-green through the front sends new requests to the new
engine), `recorded` (state names the new engine).
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV = "DEPLOYCTL_TEST_PAUSE_AT"
PAUSE_STEPS = ("locked", "checkpoint", "stopped", "launched", "smoked", "attached", "switched", "recorded")


def pause(step: str) -> None:
    """Hold still at `step` when the test asks for it; a no-op otherwise."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"deployctl: paused at {step} ({PAUSE_ENV})", file=sys.stderr, flush=True)
        time.sleep(3600)
