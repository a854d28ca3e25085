"""The tune loop: start each candidate, check its greedy outputs, bench it, stop it; resumable, bounded.

Side effects go through two small interfaces so the loop's logic runs in tests without a network:
`Starter` (start a candidate recipe and say where it answers; stop it) and `Prober` (the fixed greedy
prompt set; the bench at one concurrency). The real ones are in `tune/live.py` (`apply`/`destroy`,
the openai SDK, `deployctl bench`'s load generator).

Every finished candidate is written at once to `<DEPLOYCTL_HOME>/tune/<name>.json` (atomic), keyed by a
hash of the recipe, the space and the bench settings: running again skips finished candidates; a changed
recipe or space starts over.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deployctl import settings
from deployctl.atomic import atomic_write_text
from deployctl.recipe.model import Recipe
from deployctl.tune.space import DEFAULT, Candidate, Outcome, best, confirms, next_candidate

GREEDY_PROMPTS = (
    "The capital of France is",
    "def fibonacci(n):",
    "List three primary colors:",
    "Water boils at a temperature of",
    "Once upon a time, in a small village,",
)


@dataclass(frozen=True)
class Started:
    base_url: str  # ends with /v1
    model: str
    argv: tuple[str, ...]
    start_s: float


@dataclass(frozen=True)
class Greedy:
    text: str
    token_ids: tuple[int, ...] | None = None  # when the engine returns them (logprobs)


@dataclass(frozen=True)
class Figures:
    output_tok_s: float | None
    median_tpot_ms: float | None
    median_ttft_ms: float | None


class Starter(Protocol):
    def start(self, recipe: Recipe) -> Started: ...
    def stop(self, recipe: Recipe) -> None: ...


class Prober(Protocol):
    def greedy(self, started: Started, prompts: Sequence[str], max_tokens: int) -> list[Greedy]: ...
    def bench(self, started: Started, concurrency: int) -> Figures: ...


@dataclass(frozen=True)
class Budget:
    starts: int = 7  # new engine starts this invocation: a search of 5, and 2 to confirm its winner
    minutes: float = 9.0  # no new start after this, nor one the last start's duration would overrun


CONFIRM_PREFIX = "confirm-"  # the second measurement of the defaults and of the search's winner


@dataclass
class Record:
    """One finished candidate, as written to the state file and the result JSON."""

    name: str
    options: dict[str, Any]
    changes_numerics: bool
    argv_added: list[str] = field(default_factory=list)
    argv_removed: list[str] = field(default_factory=list)
    start_s: float | None = None
    seconds: float | None = None  # start + probe + bench + stop
    c1: dict[str, float | None] = field(default_factory=dict)
    cn: dict[str, float | None] = field(default_factory=dict)
    decode_tok_s: float | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    outputs_match: bool = False
    error: str | None = None

    def outcome(self) -> Outcome:
        return Outcome(
            self.decode_tok_s, self.cn.get("output_tok_s"), self.outputs_match, self.error is not None
        )


@dataclass
class TuneRun:
    recipe: Recipe
    singles: Sequence[Candidate]
    starter: Starter
    prober: Prober
    concurrency: int = 16
    budget: Budget = field(default_factory=Budget)
    allow_numerics_change: bool = False
    max_tokens: int = 32
    settings_key: str = ""  # bench sizes etc.: part of the resume key
    report: Callable[[str], None] = lambda _: None
    advance: Callable[[str], None] = lambda _: None  # the progress bar: one finished candidate
    clock: Callable[[], float] = time.monotonic


def candidate_recipe(recipe: Recipe, candidate: Candidate) -> Recipe:
    """`<name>-tune` with the candidate's options, no profile and no front (the engine is measured alone)."""
    engine = recipe.engine.model_validate(
        {**recipe.engine.model_dump(), **candidate.options, "profile": "none"}
    )
    serve = recipe.serve.model_copy(update={"front": "none"})
    return recipe.model_copy(update={"name": f"{recipe.name}-tune"[:63], "engine": engine, "serve": serve})


def state_path(recipe: Recipe) -> Path:
    return settings.home() / "tune" / f"{recipe.name}.json"


def run_key(run: TuneRun) -> str:
    payload = {
        "recipe": run.recipe.model_dump(mode="json"),
        "singles": [(c.name, dict(c.options)) for c in run.singles],
        "concurrency": run.concurrency,
        "max_tokens": run.max_tokens,
        "prompts": GREEDY_PROMPTS,
        "allow_numerics_change": run.allow_numerics_change,
        "settings": run.settings_key,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_records(path: Path, key: str) -> dict[str, Record]:
    """Finished candidates of an earlier run with the same key; nothing when the key changed."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if data.get("key") != key:
        return {}
    return {name: Record(**row) for name, row in data.get("candidates", {}).items()}


def save_records(path: Path, key: str, records: dict[str, Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"key": key, "candidates": {name: asdict(rec) for name, rec in records.items()}}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def tune(run: TuneRun) -> dict[str, Any]:
    """Search until done or out of budget; return the result document (see `result_document`)."""
    path, key = state_path(run.recipe), run_key(run)
    records = load_records(path, key)
    if records:
        run.report(f"resuming: {len(records)} candidate(s) finished earlier ({', '.join(records)})")
    started_at, starts, stopped = run.clock(), 0, "search complete"
    last_seconds = 0.0
    while True:
        done = {name: rec.outcome() for name, rec in records.items()}
        candidate = next_candidate(run.singles, done, allow_numerics_change=run.allow_numerics_change)
        if candidate is None:
            break
        elapsed = run.clock() - started_at
        if starts >= run.budget.starts:
            stopped = f"start budget reached ({run.budget.starts} starts)"
            break
        if elapsed + last_seconds > run.budget.minutes * 60:
            stopped = f"time budget reached ({run.budget.minutes:g} min)"
            break
        if candidate.name != DEFAULT and DEFAULT in records and records[DEFAULT].error:
            stopped = "the defaults failed to start: nothing to compare with"
            break
        starts += 1
        tick = run.clock()
        record = measure(run, candidate, records.get(DEFAULT))
        record.seconds = run.clock() - tick
        last_seconds = record.seconds
        records[candidate.name] = record
        save_records(path, key, records)
        run.advance(candidate.name)
    starts += confirm(run, records, path, key, starts_left=run.budget.starts - starts, started_at=started_at)
    return result_document(run, records, stopped=stopped, new_starts=starts)


def confirm(
    run: TuneRun, records: dict[str, Record], path: Path, key: str, *, starts_left: int, started_at: float
) -> int:
    """Measure the defaults and the search's winner once more, one after the other, before it may become
    a profile: a single short bench can be off by a few percent (on an H200, 2026-11-30, max_num_seqs 64
    measured 1.043× the defaults in the search and 1.003× side by side minutes later). Returns the starts."""
    winner = _search_winner(run, records)
    if winner is None or CONFIRM_PREFIX + winner.name in records:
        return 0
    last = max((rec.seconds or 0.0) for rec in records.values())
    if starts_left < 2 or run.clock() - started_at + 2 * last > run.budget.minutes * 60:
        run.report(f"{winner.name}: no budget left to confirm it (2 starts): no profile from this run")
        return 0
    starts = 0
    again = Candidate(CONFIRM_PREFIX + DEFAULT)
    if again.name not in records:
        records[again.name] = measure(run, again, records.get(DEFAULT))
        save_records(path, key, records)
        starts += 1
    name = CONFIRM_PREFIX + winner.name
    records[name] = measure(run, Candidate(name, winner.options), records[again.name])
    save_records(path, key, records)
    run.advance(name)
    return starts + 1


def _search_winner(run: TuneRun, records: dict[str, Record]) -> Candidate | None:
    known = [Candidate(DEFAULT), *run.singles]
    known += [
        Candidate(name, rec.options)
        for name, rec in records.items()
        if name not in {c.name for c in known} and not name.startswith(CONFIRM_PREFIX)
    ]
    done = {name: rec.outcome() for name, rec in records.items()}
    return best(known, done, allow_numerics_change=run.allow_numerics_change)


def measure(run: TuneRun, candidate: Candidate, reference: Record | None) -> Record:
    """Start, greedy check, bench at 1 and at the target concurrency, stop (also on failure)."""
    from deployctl.errors import DeployctlError

    recipe = candidate_recipe(run.recipe, candidate)
    record = Record(candidate.name, dict(candidate.options), candidate.changes_numerics)
    run.report(
        f"{candidate.name}: starting {recipe.name} with {dict(candidate.options) or 'engine defaults'}"
    )
    try:
        started = run.starter.start(recipe)
        record.start_s = started.start_s
        if reference is not None:
            record.argv_added, record.argv_removed = argv_diff(reference_argv(reference), started.argv)
        else:
            record.argv_added = list(started.argv)  # the reference: its whole argv
        outputs = run.prober.greedy(started, GREEDY_PROMPTS, run.max_tokens)
        record.outputs = [asdict(o) for o in outputs]
        record.outputs_match = reference is None or same_outputs(record.outputs, reference.outputs)
        one = run.prober.bench(started, 1)
        many = run.prober.bench(started, run.concurrency)
        record.c1, record.cn = asdict(one), asdict(many)
        record.decode_tok_s = 1000.0 / one.median_tpot_ms if one.median_tpot_ms else None
    except DeployctlError as exc:
        record.error = exc.message
        run.report(f"{candidate.name}: failed: {exc.message}")
    finally:
        run.starter.stop(recipe)
    return record


def reference_argv(reference: Record) -> tuple[str, ...]:
    return tuple(reference.argv_added)


def argv_diff(reference: Sequence[str], argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Arguments added and removed relative to the defaults' argv (port and name differences aside)."""
    ref, new = list(reference), list(argv)
    added = [a for a in new if a not in ref]
    removed = [a for a in ref if a not in new]
    return added, removed


def same_outputs(outputs: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]) -> bool:
    """Token for token when both sides have token ids, else the completion text."""
    if len(outputs) != len(reference):
        return False
    for mine, theirs in zip(outputs, reference, strict=True):
        if mine.get("token_ids") is not None and theirs.get("token_ids") is not None:
            if list(mine["token_ids"]) != list(theirs["token_ids"]):
                return False
        elif mine.get("text") != theirs.get("text"):
            return False
    return True


def result_document(
    run: TuneRun, records: dict[str, Record], *, stopped: str, new_starts: int
) -> dict[str, Any]:
    """The tune's result: every candidate, the winner (None: the defaults stay) and its gain."""
    found = _search_winner(run, records)
    default, chosen = records.get(DEFAULT), records.get(found.name) if found else None
    confirmed: bool | None = None
    if found is not None:
        again, repeat = records.get(CONFIRM_PREFIX + DEFAULT), records.get(CONFIRM_PREFIX + found.name)
        confirmed = bool(
            again
            and repeat
            and confirms(
                repeat.outcome(), again.outcome(), found, allow_numerics_change=run.allow_numerics_change
            )
        )
        if again and repeat:  # the fresh side-by-side pair is the figure to trust
            default, chosen = again, repeat
    winner = found if confirmed else None
    if not confirmed:
        chosen = None
    kept = chosen or default  # what serves after the tune: the winner, else the defaults
    numerics = [asdict(rec) for rec in records.values() if rec.changes_numerics]
    return {
        "recipe": run.recipe.name,
        "concurrency": run.concurrency,
        "stopped": stopped,
        "new_starts": new_starts,
        "winner": winner.name if winner else None,
        "search_winner": found.name if found else None,
        "confirmed": confirmed,  # None: no winner to confirm; False: not repeated (or no budget to repeat)
        "options": dict(winner.options) if winner else {},
        "default_tok_s": default.decode_tok_s if default else None,
        "tuned_tok_s": chosen.decode_tok_s if chosen else (default.decode_tok_s if default else None),
        "ratio": _ratio(chosen.decode_tok_s, default.decode_tok_s) if chosen and default else 1.0,
        "default_cn_tok_s": default.cn.get("output_tok_s") if default else None,
        "tuned_cn_tok_s": kept.cn.get("output_tok_s") if kept else None,
        "cn_ratio": _ratio(chosen.cn.get("output_tok_s"), default.cn.get("output_tok_s"))
        if chosen and default
        else 1.0,
        "greedy_outputs_match": chosen.outputs_match if chosen else True,
        "candidates": [asdict(rec) for rec in records.values() if not rec.changes_numerics],
        "search_ratio": _ratio(records[found.name].decode_tok_s, records[DEFAULT].decode_tok_s)
        if found and DEFAULT in records
        else None,
        "numerics_changing": numerics,
    }


def _ratio(new: float | None, old: float | None) -> float | None:
    return new / old if new and old else None


def compare_profile(run: TuneRun, profile_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """Defaults vs a profile, measured now, one after the other on the same engine (no resume: one run)."""
    default = measure(run, Candidate(DEFAULT), None)
    run.advance(DEFAULT)
    tuned = measure(run, Candidate(profile_id, options), default)
    run.advance(profile_id)
    return {
        "profile": profile_id,
        "options": options,
        "concurrency": run.concurrency,
        "default_tok_s": default.decode_tok_s,
        "tuned_tok_s": tuned.decode_tok_s,
        "ratio": _ratio(tuned.decode_tok_s, default.decode_tok_s),
        "default_cn_tok_s": default.cn.get("output_tok_s"),
        "tuned_cn_tok_s": tuned.cn.get("output_tok_s"),
        "cn_ratio": _ratio(tuned.cn.get("output_tok_s"), default.cn.get("output_tok_s")),
        "greedy_outputs_match": tuned.outputs_match,
        "candidates": [asdict(default), asdict(tuned)],
    }
