"""The plan as golden text: built from hand-made observed state, no Docker, no mocks."""

from __future__ import annotations

import pytest

from deployctl.plan import Desired, Observed, make_plan

FP8 = Desired(deployment="qwen", spec_hash="aaa", checkpoint="ck-fp8", quantized=True, quantize_cost="~5 s")
BASE = Desired(deployment="qwen", spec_hash="bbb", checkpoint="ck-base", quantized=False)

CASES = [
    (
        "a first apply quantizes and creates",
        FP8, Observed(),
        """Plan for qwen:
  quantize          ck-fp8: cache miss (~5 s)
  create            engine qwen: no engine running
  → changes to apply""",
    ),
    (
        "an unchanged recipe with a running engine is a no-op",
        FP8, Observed(checkpoint_cached=True, running_instances=(("deployctl-qwen-aaa", "aaa", "running"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-fp8: cache hit
  keep              engine qwen: running with spec aaa
  → no changes""",
    ),
    (
        "a new format replaces the running engine",
        BASE, Observed(running_instances=(("deployctl-qwen-aaa", "aaa", "running"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  replace           engine qwen: spec aaa → bbb
  → changes to apply""",
    ),
    (
        "a stopped engine with the same spec is restarted",
        BASE, Observed(running_instances=(("deployctl-qwen-bbb", "bbb", "exited"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  restart           engine qwen: recorded but not running
  → changes to apply""",
    ),
    (
        "a leftover from an interrupted swap is removed",
        BASE, Observed(running_instances=(("deployctl-qwen-bbb", "bbb", "running"), ("deployctl-qwen-aaa", "aaa", "exited"))),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  keep              engine qwen: running with spec bbb
  remove-orphan     deployctl-qwen-aaa: exited, spec aaa
  → changes to apply""",
    ),
]


@pytest.mark.parametrize(("desired", "observed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_reads_as(desired: Desired, observed: Observed, expected: str) -> None:
    assert str(make_plan(desired, observed)) == expected
