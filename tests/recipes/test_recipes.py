"""The example recipes are judged as their files say: recipes/ works on its named GPU, recipes/rejected/ never.

A recipe may state its expected verdict on a comment line, `# expect: <level> — <why>`; the words in
backticks in <why> must appear in the judge's reasons (case-insensitive), so an example cannot be
rejected, or accepted, for a different reason than the one it teaches.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deployctl.capability import judge_recipe, resolve_gpu
from deployctl.recipe.load import load_recipe

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
WORKING = sorted(RECIPES_DIR.glob("*.yaml"))
REJECTED = sorted((RECIPES_DIR / "rejected").glob("*.yaml"))
_EXPECT = re.compile(r"^#\s*expect:\s*(native|fallback|rejected)\s*[—-]+\s*(.+)$", re.MULTILINE)


def expectation(path: Path) -> tuple[str, list[str]] | None:
    """(level, words that must appear in the verdict's reasons) from the `# expect:` line, if any."""
    found = _EXPECT.search(path.read_text())
    if found is None:
        return None
    return found.group(1), re.findall(r"`([^`]+)`", found.group(2))


def verdict_text(verdict) -> str:
    return " ".join(f"{f.reason} {f.warning or ''}" for f in verdict.findings).lower()


def judge(path: Path):
    recipe = load_recipe(path)
    return judge_recipe(recipe, gpu=resolve_gpu(recipe))


def test_there_are_examples_of_both_kinds() -> None:
    assert len(WORKING) >= 10 and len(REJECTED) >= 5


@pytest.mark.parametrize("path", WORKING, ids=[p.stem for p in WORKING])
def test_every_example_recipe_works_on_its_named_gpu(path: Path) -> None:
    verdict = judge(path)
    assert verdict.level.value in {"native", "fallback"}, verdict_text(verdict)
    expected = expectation(path)
    if expected:
        level, words = expected
        assert verdict.level.value == level
        missing = [w for w in words if w.lower() not in verdict_text(verdict)]
        assert not missing, f"{missing} not in: {verdict_text(verdict)}"


@pytest.mark.parametrize("path", REJECTED, ids=[p.stem for p in REJECTED])
def test_every_rejected_example_is_rejected_for_the_reason_it_states(path: Path) -> None:
    expected = expectation(path)
    assert expected is not None and expected[0] == "rejected", (
        f"{path.name} needs a '# expect: rejected — why' line"
    )
    verdict = judge(path)
    assert verdict.level.value == "rejected"
    missing = [word for word in expected[1] if word.lower() not in verdict_text(verdict)]
    assert not missing, f"{missing} not in: {verdict_text(verdict)}"


@pytest.mark.parametrize("path", [*WORKING, *REJECTED], ids=[p.stem for p in [*WORKING, *REJECTED]])
def test_every_example_names_its_deployment_after_its_file(path: Path) -> None:
    assert load_recipe(path).name == path.stem or path.stem == "quickstart-cpu"
