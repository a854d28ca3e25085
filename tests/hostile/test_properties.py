"""Property-based: random mutations of the example recipes (as data and as YAML text) never crash
deployctl, never take unbounded time or memory, never touch DEPLOYCTL_HOME, and a recipe that is still
accepted never lets extra_args override deployctl's flags or carry a secret into argv.

Most examples run the real CLI in-process (fast); a sample runs it as a subprocess under an address-space
limit and a timeout, which is where a YAML bomb or a recursion would show.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import run_cli
from tests.hostile.corpus import billion_laughs
from tests.recipe_samples import HF, SK

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
TEXTS = {path.name: path.read_text() for path in RECIPES}
ADDRESS_SPACE = 1 << 30  # 1 GiB: deployctl validate needs well under half of it
SUBPROCESS_TIMEOUT_S = 30
QUICK = settings(
    max_examples=120, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip

HOSTILE_TEXT = [
    "0.0.0.0", "--host", "--api-key", HF, SK, "../../../etc/passwd", "\x00", "\u202e", "é" * 3, "a" * 300,
    ".inf", ".nan", "-1", "1e999", "${HOME}", "$(reboot)", "; rm -rf /", "*alias", "&anchor", "!!binary",
    "Qwen/Qwen3-0.6B", "tiny-qwen3", "vllm", "trtllm", "fp8", "nvfp4", "cpu", "H100 SXM",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.sampled_from(HOSTILE_TEXT),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
YAML_SNIPPETS = [
    "&a ", "*a", "*b", "<<: *a\n", "[", "]", "{", "}", ": ", "- ", "\t", "\n", "\n  ", "'", '"', "!!str ",
    "!!python/name:os.system ", "---\n", "...\n", "%YAML 1.1\n", "? ", "|\n", ">\n", "#", ",", "\x00", "\ufeff",
    "extra_args: [--host, 0.0.0.0]\n", f"api_key_env: {HF}\n", "quantization: nvfp4\n", "engine: trtllm\n",
    "health_timeout_s: .inf\n", "a: &x [*x]\n",
]  # fmt: skip


def snapshot(home: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.stat().st_size) for p in home.rglob("*")) if home.exists() else []


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested mapping/list (the root included)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated_recipes(draw: st.DrawFn) -> Any:
    """An example recipe with 1-4 random edits: delete, replace, rename (typo), add, wrap in a list."""
    data: Any = yaml.safe_load(TEXTS[draw(st.sampled_from(sorted(TEXTS)))])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        op = draw(st.sampled_from(["delete", "replace", "rename", "add", "wrap"]))
        data = _edit(data, path, op, draw)
    return data


def _edit(data: Any, path: tuple, op: str, draw: st.DrawFn) -> Any:
    if not path:
        return draw(VALUES) if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = draw(VALUES)
    elif op == "wrap":
        parent[last] = [parent[last]]
    elif op == "rename" and isinstance(parent, dict):
        key = str(last)
        cut = draw(st.integers(0, max(0, len(key) - 1)))
        parent[key[:cut] + key[cut + 1 :] or "x"] = parent.pop(last)
    elif op == "add" and isinstance(parent, dict):
        parent[
            draw(st.sampled_from(["extra_args", "env", "host", "image", "max_model_len", "nme", "<<"]))
        ] = draw(VALUES)
    return data


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """An example recipe's YAML text with 1-5 random edits: insert a YAML-significant snippet, delete a
    span, duplicate or swap lines."""
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "swap"]))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_SNIPPETS) | st.text(max_size=6)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True) or [""]
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "duplicate":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


def check_in_process(recipe: Path) -> None:
    """validate: exit 0/1/2, no traceback, the file named, bounded time, nothing written."""
    home = Path(os.environ["DEPLOYCTL_HOME"])
    before = snapshot(home)
    started = time.perf_counter()
    result = run_cli("validate", str(recipe))  # a non-DeployctlError would propagate and fail the test
    assert time.perf_counter() - started < 5
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code:
        assert "Error:" in result.stderr and str(recipe) in result.stderr, result.stderr
    else:
        assert_no_override_and_no_secret(recipe)
    assert snapshot(home) == before


def assert_no_override_and_no_secret(recipe_file: Path) -> None:
    """An accepted recipe: each flag appears once in the argv deployctl builds, no secret shape in it."""
    from deployctl.checkpoint import Checkpoint
    from deployctl.engines.base import Placement
    from deployctl.engines.owned import normalize
    from deployctl.engines.registry import build_launch_spec
    from deployctl.recipe.grammar import secret_in
    from deployctl.recipe.load import load_recipe

    recipe = load_recipe(recipe_file)
    checkpoint = Checkpoint(path=Path("/m"), key="k", format=recipe.quantization.format,
                            kv_cache=recipe.quantization.kv_cache)  # fmt: skip
    placement = Placement.for_runtime(recipe.runtime.kind, checkpoint, config_dir="/run")
    spec = build_launch_spec(recipe, checkpoint, placement)
    flags = [normalize(arg) for arg in spec.args if arg.startswith("--")]
    assert len(flags) == len(set(flags)), f"a flag is given twice: {spec.args}"
    assert not any(secret_in(part) for part in (*spec.argv, *spec.env.values()))


@QUICK
@given(data=mutated_recipes())
def test_mutated_recipes_never_crash(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    recipe = tmp_path_factory.mktemp("mutated") / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    check_in_process(recipe)


@QUICK
@given(text=mutated_texts())
def test_mutated_yaml_text_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    recipe = tmp_path_factory.mktemp("text") / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_in_process(recipe)


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def check_subprocess(recipe: Path, home: Path) -> None:
    """The real console entry under 1 GiB of address space and a timeout."""
    before = snapshot(home)
    env = {**os.environ, "DEPLOYCTL_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "deployctl", "validate", str(recipe)], capture_output=True, text=True,
        env=env, timeout=SUBPROCESS_TIMEOUT_S, preexec_fn=_limit_address_space,
    )  # fmt: skip
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    if done.returncode:
        assert str(recipe) in done.stderr
    assert time.perf_counter() - started < SUBPROCESS_TIMEOUT_S
    assert snapshot(home) == before


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=mutated_texts())
def test_a_sample_in_a_subprocess_stays_within_memory_and_time(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.mktemp("sub")
    recipe = folder / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_subprocess(recipe, folder / "home")


@pytest.mark.parametrize(
    "text",
    [billion_laughs(), "a: &a [*a]\n", "k: " + "[" * 100_000 + "]" * 100_000 + "\n"],
    ids=["billion laughs", "a self-referencing alias", "100000 nested sequences"],
)
def test_bombs_fail_fast_under_the_memory_limit(tmp_path: Path, text: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    started = time.perf_counter()
    check_subprocess(recipe, tmp_path / "home")
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"{elapsed:.1f} s"
