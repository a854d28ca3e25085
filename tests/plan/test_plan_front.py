"""The front in the plan (golden text): started when missing, restarted when its configuration
changed, pointed back at the recorded engine before an orphan it routes to is removed, removed when
the recipe drops it; a swap states its strategy and the downtime to expect."""

from __future__ import annotations

import pytest

from deployctl.plan import Desired, FrontObserved, Instance, Observed, make_plan

A, B = "deployctl-qwen-aaa", "deployctl-qwen-bbb"
WITH_FRONT = Desired(
    deployment="qwen", spec_hash="aaa", checkpoint="ck", quantized=False,
    front="haproxy on 127.0.0.1:8000", front_identity="f1",
)  # fmt: skip
UP = FrontObserved(running=True, identity="f1", upstreams=("127.0.0.1:4001",))


def observed(*instances: Instance, front: FrontObserved | None = UP) -> Observed:
    return Observed(
        recorded_instance=A, checkpoint_cached=True, instances=instances, front=front,
        recorded_upstream="127.0.0.1:4001",
    )  # fmt: skip


def serving(name: str = A, spec: str = "aaa") -> Instance:
    return Instance(name=name, spec_hash=spec, phase="running")


CASES = [
    (
        "a front that runs as wanted and routes to the recorded engine changes nothing",
        WITH_FRONT,
        observed(serving()),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → no changes""",
    ),
    (
        "a front killed behind deployctl's back is started again",
        WITH_FRONT,
        observed(serving(), front=FrontObserved(running=False, identity="f1")),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  front             front haproxy on 127.0.0.1:8000: its process is gone: start it
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → changes to apply""",
    ),
    (
        "a front routing to an orphan (a swap killed after the switch) is switched back before the orphan goes",
        WITH_FRONT,
        observed(
            serving(), serving(B, "bbb"), front=UP.model_copy(update={"upstreams": ("127.0.0.1:4002",)})
        ),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  front             front haproxy on 127.0.0.1:8000: routes to 127.0.0.1:4002, not the recorded engine at 127.0.0.1:4001: switch it
  remove-orphan     deployctl-qwen-bbb: not in state (running, spec bbb)
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → changes to apply""",
    ),
    (
        "a front with another configuration (a new public port) is restarted",
        WITH_FRONT.model_copy(update={"front_identity": "f2"}),
        observed(serving()),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  front             front haproxy on 127.0.0.1:8000: runs configuration f1, the recipe wants f2: restart it
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → changes to apply""",
    ),
    (
        "a recipe without a front removes the one that runs",
        WITH_FRONT.model_copy(update={"front": None, "front_identity": None, "spec_hash": "bbb"}),
        observed(serving()),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  remove-front      front qwen: the recipe has no front (serve.front); the engine takes the public port again
  replace           engine qwen: spec aaa → bbb (deployctl-qwen-aaa kept until the new one passes its smoke test)
  → changes to apply""",
    ),
    (
        "a blue-green swap through the front says the front switches and what downtime to expect",
        WITH_FRONT.model_copy(
            update={
                "spec_hash": "bbb",
                "strategy": "blue-green",
                "expected_downtime": "~12 s (503)",
                "strategy_note": "two engines fit in host memory",
            }
        ),
        observed(serving()),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  blue-green        engine qwen: spec aaa → bbb (the new engine starts beside deployctl-qwen-aaa, which serves until the new one passes its smoke test and the front haproxy on 127.0.0.1:8000 switches to it); two engines fit in host memory; expected downtime 0 s
  → changes to apply""",
    ),
    (
        "a replace behind the front states the gap, answered with 503",
        WITH_FRONT.model_copy(
            update={
                "spec_hash": "bbb",
                "expected_downtime": "~12 s, the last engine start (503 + Retry-After)",
            }
        ),
        observed(serving()),
        """Plan for qwen:
  reuse-checkpoint  ck: base model, no quantization
  replace           engine qwen: spec aaa → bbb (deployctl-qwen-aaa kept until the new one passes its smoke test); expected downtime ~12 s, the last engine start (503 + Retry-After)
  → changes to apply""",
    ),
]


@pytest.mark.parametrize(("desired", "seen", "golden"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_front_plan(desired: Desired, seen: Observed, golden: str) -> None:
    assert str(make_plan(desired, seen)) == golden
