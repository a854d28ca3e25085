"""Every input of the hostile corpus is refused with exit 1 or 2, one clear message naming the file (and the
line and field where they exist), no traceback, no secret echoed back, and nothing written anywhere."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.hostile.corpus import CASES, Case
from tests.recipe_samples import GOOD, SECRETS


def snapshot(home: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.stat().st_size) for p in home.rglob("*")) if home.exists() else []


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import what validate imports once, so the time bound below measures the input, not start-up."""
    recipe = tmp_path_factory.mktemp("warm") / "recipe.yaml"
    recipe.write_text(GOOD)
    assert run_cli("validate", str(recipe)).exit_code == 0


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}: {c.id}" for c in CASES])
def test_hostile_recipe_is_refused_clearly(tmp_path: Path, case: Case) -> None:
    recipe = tmp_path / "recipe.yaml"
    if isinstance(case.text, bytes):
        recipe.write_bytes(case.text)
    else:
        recipe.write_text(case.text, encoding="utf-8")
    home = Path(os.environ["DEPLOYCTL_HOME"])
    before = snapshot(home)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # compose/render would write next to the working directory, if anything
    try:
        started = time.perf_counter()
        result = run_cli(case.command, str(recipe))
        elapsed = time.perf_counter() - started
    finally:
        os.chdir(cwd)

    assert "Traceback" not in result.output
    assert result.exit_code == case.exit_code, result.output
    assert elapsed < 5, f"took {elapsed:.1f} s"
    first = next(line for line in result.stderr.splitlines() if line.startswith("Error:"))
    where = re.escape(str(recipe)) + (f":{case.line}\\b" if case.line else "")
    assert re.search(where, first), (
        f"file{' and line ' + str(case.line) if case.line else ''} not named: {first}"
    )
    if case.field:
        assert f"({case.field})" in first, f"field {case.field} not named: {first}"
    for word in case.words:
        assert word in result.stderr, f"{word!r} missing from:\n{result.stderr}"
    for secret in SECRETS:
        assert secret not in result.output, "a secret was echoed back"
    assert snapshot(home) == before, "a rejected recipe has no side effects"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]


def test_the_corpus_covers_every_class_with_at_least_60_inputs() -> None:
    per_class = Counter(case.cls for case in CASES)
    assert sum(per_class.values()) >= 60
    assert len(per_class) == 5 and min(per_class.values()) >= 5, per_class
