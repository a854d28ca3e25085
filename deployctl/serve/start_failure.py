"""Why an engine died at start, read from its log: the root-cause block and, when known, a hint.

Pure: text in, `StartFailure` out. The adapters (health.py, the runtimes) only keep the log and pass
its text here.

The tail of a failed vLLM start is the API server's own traceback, which ends in "Engine core
initialization failed. See root cause above" — the cause is above it, in the engine core's or a
worker's traceback (vllm 0.24.0 vllm/v1/engine/utils.py wait_for_engine_startup;
vllm/v1/engine/core.py run_engine_core logs "EngineCore failed to start." with the traceback). So:

1. every line loses vLLM's prefixes: `(EngineCore_DP0 pid=12) ` and `ERROR 11-30 10:00:00 [core.py:708] `;
2. the root cause is the first Python traceback whose exception is not one of the wrappers that only
   point elsewhere (`WRAPPERS`), cut to its last frames and its exception lines;
3. with no traceback: the ERROR lines; with neither: the last lines;
4. the signature table (`data/start_failures.yaml`) adds a hint: the first row matching the root
   cause, else the first matching anywhere in the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

MAX_FRAME_LINES = 8  # traceback lines kept above the exception (the innermost frames)
MAX_EXCEPTION_LINES = 8
MAX_ERROR_LINES = 12
FALLBACK_TAIL_LINES = 20

_PROCESS_PREFIX = re.compile(r"^\((?P<proc>[A-Za-z][\w:.-]*)(?: pid=\d+)?\)\s?")
_LEVEL_PREFIX = re.compile(
    r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\s+\[[^\]]*\]\s?"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK = "Traceback (most recent call last):"
_CHAIN = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
# Exceptions that only say "the cause is elsewhere": never the root cause when another exists.
WRAPPERS = re.compile(
    r"Engine core initialization failed|See root cause above|WorkerProc initialization failed"
    r"|EngineDeadError|Engine process failed to start|EngineCore encountered an issue"
)
_ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b|^\w*(?:Error|Exception): |^error: ")


@dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    hint: str
    source: str


@dataclass(frozen=True)
class StartFailure:
    """What to show: `root_cause` (lines, prefixes removed), and a `hint` when a signature matched."""

    root_cause: str
    hint: str | None = None
    signature: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class _Line:
    proc: str  # "EngineCore_DP0", "APIServer", or "" when the line has no process prefix
    level: str  # "ERROR", "INFO", ... or ""
    origin: str  # the logger prefix ("ERROR 11-30 10:00:00 [core.py:708]"): one record's lines share it
    text: str


def explain(log_text: str) -> StartFailure:
    """The root cause and hint for an engine log (any engine; vLLM's layout is understood best)."""
    lines = [_parse(raw) for raw in log_text.splitlines()]
    block = _root_traceback(lines) or _error_lines(lines) or _tail(lines)
    root = "\n".join(block).strip("\n")
    everything = "\n".join(line.text for line in lines)
    for haystack in (root, everything):
        for signature in load_signatures():
            if signature.pattern.search(haystack):
                return StartFailure(root, signature.hint, signature.name, signature.source)
    return StartFailure(root)


@cache
def load_signatures() -> tuple[Signature, ...]:
    """The table of known start failures, in priority order."""
    text = resources.files("deployctl.data").joinpath("start_failures.yaml").read_text()
    rows = yaml.safe_load(text)
    return tuple(
        Signature(row["name"], re.compile(row["pattern"]), " ".join(row["hint"].split()), row["source"])
        for row in rows
    )


def _parse(raw: str) -> _Line:
    text = _ANSI.sub("", raw.rstrip("\r\n"))
    proc = ""
    if match := _PROCESS_PREFIX.match(text):
        proc, text = match["proc"], text[match.end() :]
    level = origin = ""
    if match := _LEVEL_PREFIX.match(text):
        level, origin, text = match["level"], match[0].strip(), text[match.end() :]
    return _Line(proc, level, origin, text)


def _root_traceback(lines: list[_Line]) -> list[str]:
    """The first traceback (per process) whose exception is not a wrapper; else the first at all."""
    blocks = [_traceback_at(lines, i) for i, line in enumerate(lines) if line.text.strip() == _TRACEBACK]
    causes = [b for b in blocks if b and not WRAPPERS.search("\n".join(b[-MAX_EXCEPTION_LINES:]))]
    chosen = causes[0] if causes else (blocks[0] if blocks else [])
    return chosen


def _traceback_at(lines: list[_Line], start: int) -> list[str]:
    """Lines of one traceback from the same process: header, the innermost frames, the exception."""
    first = lines[start]
    proc = first.proc
    frames: list[str] = []
    exception: list[str] = []
    for line in lines[start + 1 :]:
        if line.proc != proc:
            continue  # another process's output interleaved with this traceback
        text = line.text
        if not exception:
            if text.startswith((" ", "\t")) or not text.strip():
                frames.append(text)
                continue
        elif line.origin != first.origin or text.strip() in ("", _TRACEBACK, *_CHAIN):
            break  # another log record, a chained exception, or the end of the traceback
        elif not first.origin and text.startswith("Process "):
            break  # multiprocessing's "Process EngineCore_DP0:" before the next traceback
        exception.append(text)
        if len(exception) >= MAX_EXCEPTION_LINES:
            break
    if not exception:
        return []
    header = f"{_TRACEBACK}" + (f"  [{proc}]" if proc else "")
    kept = [f for f in frames if f.strip()][-MAX_FRAME_LINES:]
    skipped = len([f for f in frames if f.strip()]) - len(kept)
    return [
        header,
        *([f"  ... {skipped} lines of frames left out ..."] if skipped else []),
        *kept,
        *exception,
    ]


def _error_lines(lines: list[_Line]) -> list[str]:
    found = [
        (f"[{line.proc}] " if line.proc else "") + line.text
        for line in lines
        if line.level in ("ERROR", "CRITICAL") or (not line.level and _ERROR_LINE.search(line.text))
    ]
    return found[:MAX_ERROR_LINES]


def _tail(lines: list[_Line]) -> list[str]:
    return [line.text for line in lines[-FALLBACK_TAIL_LINES:]]
