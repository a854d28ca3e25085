"""What every swap test asserts afterwards: the endpoint answers, state matches reality, nothing is left over."""

from __future__ import annotations

from pathlib import Path

from deployctl.recipe.load import load_recipe
from deployctl.runtimes.registry import get_runtime
from deployctl.serve.smoke import SmokeReport, smoke_recipe
from deployctl.state import StateStore


def engine_pids(port: int) -> list[int]:
    """Processes serving on `port` by their command line: seen by /proc, not by deployctl's records."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] in ("Z", "X"):
            continue
        words = [a.decode(errors="replace") for a in argv]
        serves = any(
            w == "--port" and i + 1 < len(words) and words[i + 1] == str(port) for i, w in enumerate(words)
        )
        fake = any(w.endswith("fake_engine.py") for w in words) and str(port) in words
        if serves or fake:
            pids.append(int(entry.name))
    return pids


def assert_serves(recipe_file: Path, port: int) -> SmokeReport:
    """The recipe's engine answers the smoke test; state names it; it is the only instance and process."""
    from deployctl.apply import build_spec
    from deployctl.quantize.lookup import find_checkpoint

    recipe = load_recipe(recipe_file)
    state = StateStore().load(recipe.name)
    assert state is not None, "no state document"
    expected = build_spec(recipe, find_checkpoint(recipe)).spec_hash()
    assert state.spec_hash == expected, "state names another spec than the recipe's"
    runtime = get_runtime(recipe.runtime)
    found = runtime.find(recipe.name)
    assert [h.name for h in found] == [state.handle.name], f"instances besides the recorded one: {found}"
    assert runtime.state(found[0]).running and found[0].id == state.handle.id
    assert engine_pids(port) == [int(state.handle.id)], (
        "a process other than the recorded engine serves the port"
    )
    return smoke_recipe(recipe, state.endpoint, model=state.spec.engine_args.served_name)
