"""Where each key of a loaded recipe was written, for errors raised after loading.

The loader knows every key's line; the capability judge and the recipe checks run later, on the
`Recipe` value. Rather than widen every signature, the loader remembers the line index beside the
recipe object (dropped when the recipe is), and `recipe_line(recipe, "quantization.format")` finds
the nearest written line: the key itself, else the closest key above it (`engine: vllm` for
`engine.name`). Recipes not read from a file (tests, state documents) simply have no lines.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_LINES: dict[int, tuple[Path, dict[tuple[Any, ...], int]]] = {}


def remember_lines(recipe: object, file: Path, lines: dict[tuple[Any, ...], int]) -> None:
    key = id(recipe)
    _LINES[key] = (file, lines)
    weakref.finalize(recipe, _LINES.pop, key, None)


def nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of `loc`, else of its closest written parent."""
    for cut in range(len(loc), -1, -1):
        if (found := lines.get(tuple(loc[:cut]))) is not None:
            return found
    return None


def recipe_line(recipe: object, field: str | None) -> int | None:
    """The line of a dotted field (`engine.extra_args.2`) in the file the recipe came from, if known."""
    found = _LINES.get(id(recipe))
    if found is None:
        return None
    loc = tuple(int(part) if part.isdigit() else part for part in field.split(".")) if field else ()
    return nearest_line(found[1], loc)


def recipe_file(recipe: object) -> Path | None:
    found = _LINES.get(id(recipe))
    return found[0] if found else None


def carry_lines(copy: T, original: object) -> T:
    """`copy` (a recipe made from `original` by model_copy) points at the same lines; returns `copy`."""
    found = _LINES.get(id(original))
    if found is not None and copy is not original:
        remember_lines(copy, *found)
    return copy
