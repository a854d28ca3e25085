"""The tune loop in memory: candidates start on the recording runtime with their real LaunchSpecs, a
scripted prober answers the greedy prompts and the bench (no network). Search order, budget stop,
resume, invalidation, disqualification on differing outputs, numerics-changing candidates apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deployctl.apply import build_spec
from deployctl.capability.profiles import ProfileKey
from deployctl.checkpoint import Checkpoint
from deployctl.instance import instance_name
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import KvCacheFormat, QuantFormat, Recipe
from deployctl.tune.loop import Budget, Figures, Greedy, Started, TuneRun, compare_profile, state_path, tune
from deployctl.tune.profile_row import profile_row
from deployctl.tune.space import Candidate, vllm_space
from tests.recording_runtime import RecordingRuntime

CHECKPOINT = Checkpoint(path=Path("/models/q8b"), key="base-q8b")


def recipe(**engine: object) -> Recipe:
    return parse_recipe_dict(
        {
            "name": "q8b", "model": "/models/q8b", "gpu": "H200", "runtime": "docker",
            "engine": {"name": "vllm", **engine},
        }
    )  # fmt: skip


@dataclass
class MemoryStarter:
    """Starts the candidate's real LaunchSpec on the recording runtime; removes it on stop."""

    runtime: RecordingRuntime = field(default_factory=RecordingRuntime)
    started: list[str] = field(default_factory=list)

    def start(self, wanted: Recipe) -> Started:
        spec = build_spec(wanted, CHECKPOINT)
        handle = self.runtime.launch(spec, name=instance_name(spec))
        self.started.append(" ".join(spec.args))
        return Started(
            base_url=f"{handle.endpoint}/v1", model=wanted.served_name, argv=spec.argv, start_s=1.0
        )

    def stop(self, wanted: Recipe) -> None:
        for handle in self.runtime.find(wanted.name):
            self.runtime.remove(handle)


@dataclass
class ScriptedProber:
    """Decode rate and outputs per argv fragment: what the engine would do with those flags."""

    speed: dict[str, float] = field(default_factory=dict)  # flag → batch-1 tok/s
    capacity: dict[str, float] = field(default_factory=dict)  # flag → cN tok/s
    differs: set[str] = field(default_factory=set)  # flags whose greedy tokens differ

    def _pick(self, started: Started, table: dict[str, float], default: float) -> float:
        """The default plus each present flag's gain over it (gains add up when flags combine)."""
        return default + sum(v - default for flag, v in table.items() if flag in started.argv)

    def greedy(self, started: Started, prompts: Sequence[str], max_tokens: int) -> list[Greedy]:
        other = any(flag in started.argv for flag in self.differs)
        return [Greedy(text=p, token_ids=(1, 2, 3 + int(other))) for p in prompts]

    def bench(self, started: Started, concurrency: int) -> Figures:
        if concurrency == 1:
            return Figures(None, 1000.0 / self._pick(started, self.speed, 300.0), 20.0)
        return Figures(self._pick(started, self.capacity, 3000.0), 5.0, 30.0)


def run_of(
    prober: ScriptedProber, starter: MemoryStarter, wanted: Recipe | None = None, **kw: object
) -> TuneRun:
    wanted = wanted or recipe()
    return TuneRun(recipe=wanted, singles=vllm_space(wanted, 16), starter=starter, prober=prober, **kw)  # type: ignore[arg-type]


def test_defaults_first_then_each_option_then_the_winners_combined() -> None:
    starter = MemoryStarter()
    prober = ScriptedProber(speed={"interactivity": 330.0, "--stream-interval": 320.0})
    result = tune(run_of(prober, starter))
    names = [c["name"] for c in result["candidates"]]
    assert names == ["default", "stream-interval-8", "max-seqs-64", "interactivity", "combined"] + [
        "confirm-default", "confirm-combined"  # the winner and the defaults measured once more
    ]  # fmt: skip
    assert "--performance-mode" not in starter.started[0]
    combined = result["candidates"][4]
    assert combined["options"] == {"stream_interval": 8, "performance_mode": "interactivity"}
    assert combined["argv_added"] == ["--performance-mode", "interactivity", "--stream-interval", "8"]
    assert result["winner"] == "combined" and result["ratio"] == pytest.approx(350 / 300)
    assert result["confirmed"] is True and result["search_winner"] == "combined"
    assert starter.runtime.instances == {}, "every candidate is stopped"


@dataclass
class FadingProber(ScriptedProber):
    """A gain that shows once (a lucky short bench) and not when measured again."""

    measured: dict[str, int] = field(default_factory=dict)  # flag → batch-1 benches so far

    def bench(self, started: Started, concurrency: int) -> Figures:
        for flag in self.speed if concurrency == 1 else ():
            if flag in started.argv:
                self.measured[flag] = self.measured.get(flag, 0) + 1
                if self.measured[flag] > 1:
                    return Figures(None, 1000.0 / 300.0, 20.0)  # again: no faster than the defaults
        return super().bench(started, concurrency)


def test_a_gain_that_does_not_repeat_side_by_side_is_not_kept() -> None:
    # As measured on an H200 (2026-11-30): max_num_seqs 64 gave 1.043× in the search, 1.003× side by side.
    prober = FadingProber(speed={"--max-num-seqs": 313.0})
    result = tune(run_of(prober, MemoryStarter()))
    assert result["search_winner"] == "max-seqs-64" and result["confirmed"] is False
    assert result["winner"] is None and result["options"] == {} and result["ratio"] == 1.0
    assert result["search_ratio"] == pytest.approx(313 / 300)
    key = ProfileKey(
        gpu="H200", engine="vllm", engine_version="0.24.0", format=QuantFormat.NONE,
        kv_cache=KvCacheFormat.NONE, shape_class="dense-8b",
    )  # fmt: skip
    assert profile_row(result, key, machine="H200", source="x.json") is None, (
        "no profile from an unrepeated gain"
    )


def test_an_fp8_checkpoint_tries_the_other_fp8_gemm_library_first() -> None:
    fp8 = parse_recipe_dict(
        {"name": "q8b", "model": "/models/q8b", "gpu": "H200", "runtime": "docker",
         "quantization": "fp8", "engine": "vllm"}
    )  # fmt: skip
    singles = vllm_space(fp8, 16)
    assert singles[0] == Candidate("linear-torch", {"linear_backend": "torch"})
    assert "linear-torch" not in [c.name for c in vllm_space(recipe(), 16)], "bf16 has no quantized GEMM"
    pinned = fp8.model_copy(update={"engine": fp8.engine.model_copy(update={"linear_backend": "cutlass"})})
    assert "linear-torch" not in [c.name for c in vllm_space(pinned, 16)], "a pinned key is not swept"


def test_the_start_budget_stops_the_search_and_reports_the_best_so_far() -> None:
    prober = ScriptedProber(speed={"--stream-interval": 330.0})
    result = tune(run_of(prober, MemoryStarter(), budget=Budget(starts=2)))
    assert [c["name"] for c in result["candidates"]] == ["default", "stream-interval-8"]
    assert result["stopped"] == "start budget reached (2 starts)"
    assert result["search_winner"] == "stream-interval-8"
    assert result["confirmed"] is False and result["winner"] is None, "no budget left to confirm it"


def test_the_time_budget_stops_before_a_start_that_would_overrun() -> None:
    ticks = iter(range(0, 10_000, 200))  # each clock read: 200 s later
    result = tune(
        run_of(ScriptedProber(), MemoryStarter(), budget=Budget(minutes=9), clock=lambda: next(ticks))
    )
    assert result["stopped"].startswith("time budget reached") and result["new_starts"] < 4


def test_a_second_run_resumes_and_a_changed_recipe_starts_over() -> None:
    prober = ScriptedProber(speed={"interactivity": 330.0})
    first = tune(run_of(prober, MemoryStarter(), budget=Budget(starts=2)))
    again = MemoryStarter()
    second = tune(run_of(prober, again))
    assert first["new_starts"] == 2 and second["new_starts"] == 4  # max-seqs-64, interactivity, 2 confirming
    assert len(again.started) == 4 and "--max-num-seqs" in again.started[0]
    third = MemoryStarter()
    assert tune(run_of(prober, third))["new_starts"] == 0 and third.started == []
    changed = recipe(max_model_len=4096)
    assert tune(run_of(prober, MemoryStarter(), changed))["new_starts"] == 6
    assert state_path(changed).is_file()


def test_a_faster_candidate_whose_outputs_differ_is_disqualified() -> None:
    prober = ScriptedProber(speed={"interactivity": 400.0}, differs={"interactivity"})
    result = tune(run_of(prober, MemoryStarter()))
    row = next(c for c in result["candidates"] if c["name"] == "interactivity")
    assert row["outputs_match"] is False
    assert result["winner"] is None and result["options"] == {} and result["ratio"] == 1.0


def test_a_candidate_that_costs_capacity_at_the_target_concurrency_does_not_win() -> None:
    prober = ScriptedProber(speed={"interactivity": 400.0}, capacity={"interactivity": 2000.0})
    assert tune(run_of(prober, MemoryStarter()))["winner"] is None


def test_numerics_changing_candidates_are_reported_apart_and_win_only_when_allowed() -> None:
    prober = ScriptedProber(speed={"--kv-cache-dtype": 340.0}, differs={"--kv-cache-dtype"})
    wanted = recipe()
    singles = vllm_space(wanted, 16, allow_numerics_change=True)
    plain = tune(TuneRun(recipe=wanted, singles=singles, starter=MemoryStarter(), prober=prober))
    assert [r["name"] for r in plain["numerics_changing"]] == ["kv-fp8"]
    assert "kv-fp8" not in [c["name"] for c in plain["candidates"]] and plain["winner"] is None
    allowed = tune(
        TuneRun(
            recipe=wanted, singles=singles, starter=MemoryStarter(), prober=prober, allow_numerics_change=True
        )
    )
    assert allowed["winner"] == "kv-fp8" and allowed["greedy_outputs_match"] is False


def test_options_the_recipe_pins_are_not_swept() -> None:
    assert [c.name for c in vllm_space(recipe(max_batch_size=8, performance_mode="balanced"), 16)] == [
        "stream-interval-8"
    ]


def test_compare_measures_defaults_and_the_profile_in_one_run() -> None:
    prober = ScriptedProber(speed={"interactivity": 345.0})
    row = compare_profile(
        run_of(prober, MemoryStarter()), "h200-vllm-0.24-fp8-dense-8b", {"performance_mode": "interactivity"}
    )
    assert (row["default_tok_s"], row["tuned_tok_s"]) == (pytest.approx(300.0), pytest.approx(345.0))
    assert row["ratio"] == pytest.approx(1.15) and row["greedy_outputs_match"] is True


def test_a_candidate_is_named_apart_and_runs_without_profile_or_front() -> None:
    from deployctl.tune.loop import candidate_recipe

    made = candidate_recipe(recipe(), Candidate("x", {"stream_interval": 4}))
    assert (made.name, made.engine.profile, made.serve.front, made.engine.stream_interval) == (
        "q8b-tune", "none", "none", 4,
    )  # fmt: skip
