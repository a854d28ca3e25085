"""YAML text → plain data and a line index, within a budget: no input can exhaust memory or the stack.

The safe loader alone does not bound the work: aliases share nodes, so a few hundred bytes can expand
to 10⁹ values ("billion laughs") once anything walks the data, an alias used inside its own anchor
builds a value that contains itself, and very deep nesting ends in RecursionError. One pass over the
parser's events (linear in the text, no recursion) checks all of that before any node is built:

- nesting deeper than `MAX_DEPTH` collections is refused at the line where it goes too deep;
- an alias used inside the value it names, or never defined, is refused at the alias's line;
- the size of the data *as expanded* (every alias counted as often as it is used) is counted as it
  grows, and refused at the alias that takes it past `MAX_VALUES`;
- a second document is refused at its line.

The composed tree is then walked once, never into an alias's value again, to index lines and to
refuse a key given twice in one mapping (YAML's last-one-wins would change a recipe silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployctl.errors import RecipeError

MAX_DEPTH = 32  # a recipe is 3 levels deep; nothing legitimate comes near this
MAX_VALUES = 20_000  # expanded scalars + collections; the largest example recipe has < 100
MERGE_KEY = "<<"

Lines = dict[tuple[Any, ...], int]


class _TooDeep(yaml.scanner.ScannerError):
    pass


class BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing flow nesting (`[[[[...`) as it scans: PyYAML's scanner looks up to 1024
    characters ahead for a possible key at every open bracket, at a cost that grows with the depth, so
    100000 brackets took seconds before the event pass below could count them."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        if self.flow_level >= MAX_DEPTH:
            raise _TooDeep(None, None, f"nesting deeper than {MAX_DEPTH} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


@dataclass(frozen=True)
class Document:
    """The constructed data, the line (1-based) of every key path, and the line of the top value."""

    data: Any
    lines: Lines = field(default_factory=dict)
    line: int = 1


def read_document(file: Path, text: str) -> Document | None:
    """Parse one YAML document within the budget; None when it holds no value at all."""
    _check_events(file, text)
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        lines = _index_lines(file, node)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise yaml_error(file, exc) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise RecipeError(
            f"a value cannot be read: {exc}", file=file, line=_line_of(node), hint="shorten the value"
        ) from None
    finally:
        loader.dispose()
    return Document(data=data, lines=lines, line=node.start_mark.line + 1)


def yaml_error(file: Path, exc: yaml.YAMLError, text: str = "") -> RecipeError:
    """A parser/constructor error as a RecipeError at its line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    line = (mark.line + 1) if mark else None
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: a position, no mark
        line = text.count("\n", 0, exc.position) + 1
        problem = f"character {exc.character!r} is not allowed in YAML"
    return RecipeError(
        f"YAML syntax error: {problem}",
        file=file,
        line=line,
        hint="check indentation and quoting near that line (values with ':' need quotes)",
    )


def _check_events(file: Path, text: str) -> None:
    """The budget pass over parser events (see the module docstring)."""
    sizes: dict[str, int] = {}  # anchor → expanded size of its value
    frames: list[list[Any]] = [[None, 0]]  # per open collection: [anchor, expanded size so far]
    documents = 0
    try:
        for event in yaml.parse(text, Loader=BoundedLoader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise RecipeError(
                        "a recipe file holds one YAML document", file=file, line=line,
                        hint="remove the extra '---' section starting here",
                    )  # fmt: skip
            elif isinstance(event, yaml.CollectionStartEvent):
                frames.append([event.anchor, 1])
                if len(frames) - 1 > MAX_DEPTH:
                    raise RecipeError(
                        f"the recipe nests deeper than {MAX_DEPTH} levels", file=file, line=line,
                        hint="a recipe is a few levels deep; is this the right file?",
                    )  # fmt: skip
                continue
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size = frames.pop()
                if anchor is not None:
                    sizes[anchor] = size
                frames[-1][1] += size
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                frames[-1][1] += 1
            elif isinstance(event, yaml.AliasEvent):
                frames[-1][1] += _alias_size(file, event, sizes, frames, line)
            else:
                continue
            total = sum(frame[1] for frame in frames)
            if total > MAX_VALUES:
                raise RecipeError(
                    f"the recipe expands to more than {MAX_VALUES} values (YAML aliases repeat what they "
                    "name; this is how a 'billion laughs' file exhausts memory)",
                    file=file, line=line, hint="write the values out, or use fewer nested aliases",
                )  # fmt: skip
    except _TooDeep as exc:
        raise RecipeError(
            f"the recipe nests deeper than {MAX_DEPTH} levels", file=file,
            line=exc.problem_mark.line + 1 if exc.problem_mark is not None else None,
            hint="a recipe is a few levels deep; is this the right file?",
        ) from None  # fmt: skip
    except yaml.YAMLError as exc:
        raise yaml_error(file, exc, text) from None


def _alias_size(file: Path, event: Any, sizes: dict[str, int], frames: list[list[Any]], line: int) -> int:
    anchor = event.anchor
    if any(frame[0] == anchor for frame in frames):
        raise RecipeError(
            f"alias *{anchor} is used inside the value &{anchor} names: a value cannot contain itself",
            file=file, line=line, hint=f"remove *{anchor} here, or move it out of &{anchor}",
        )  # fmt: skip
    if anchor not in sizes:
        raise RecipeError(
            f"undefined alias *{anchor}: no &{anchor} is defined before this line",
            file=file, line=line, hint=f"define &{anchor} above, or write the value out",
        )  # fmt: skip
    return sizes[anchor]


def _index_lines(file: Path, root: yaml.Node) -> Lines:
    """Every key path → its line; each node is entered once (aliases are not walked again)."""
    index: Lines = {(): root.start_mark.line + 1}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, value_node in current.value:
                key, line = _key(file, key_node), key_node.start_mark.line + 1
                if key == MERGE_KEY:
                    continue
                if key in first_line:
                    raise RecipeError(
                        f"key '{key}' is given twice in one mapping (lines {first_line[key]} and {line}); "
                        "YAML would silently keep only the last",
                        file=file, line=line, field=".".join(map(str, path + (key,))),
                        hint="keep one of them",
                    )  # fmt: skip
                first_line[key] = line
                index[path + (key,)] = line
                stack.append((value_node, path + (key,)))
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                index.setdefault((*path, position), item.start_mark.line + 1)
                stack.append((item, (*path, position)))
    return index


def _key(file: Path, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise RecipeError(
            "a key must be a plain name, not a list or mapping", file=file, line=node.start_mark.line + 1,
            hint="write keys as `name: value`",
        )  # fmt: skip
    return node.value


def _line_of(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None
