"""`deployctl render --target …`: which targets a recipe can become, and the one entry point that renders.

Targets: `compose` (render.compose), `deployment` (Deployment + Service + PVC), `lws`
(LeaderWorkerSet, gpu.nodes > 1) and `dynamo` (DynamoGraphDeployment). Refusals are raised as
`CapabilityRejected` with the reason, the source and the fix. What an engine supports comes from its
row in data/engines.yaml (`multinode`, `dynamo`, `development_engine`): an engine without a
LeaderWorkerSet launcher or a Dynamo worker is refused with the row's reason, never rendered through
another engine's branch. The rules about nodes and API keys live here.

Kubernetes targets always render the portable spec: the checkpoint comes from the PVC, so this
machine's cache folder must not leak into the file (its name becomes the PVC sub-folder).
"""

from __future__ import annotations

from collections.abc import Callable

from deployctl.engine_facts import DynamoWorker, Refusal, engine_facts
from deployctl.errors import CapabilityRejected
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import Recipe

TARGETS = ("compose", "deployment", "lws", "dynamo")
KUBERNETES_TARGETS = TARGETS[1:]


def refusal(recipe: Recipe, target: str) -> CapabilityRejected | None:
    """Why `recipe` cannot become `target`, or None when it can. First matching rule wins."""
    for rule in _RULES:
        found = rule(recipe, target)
        if found is not None:
            return found
    return None


def valid_targets(recipe: Recipe) -> tuple[str, ...]:
    return tuple(target for target in TARGETS if refusal(recipe, target) is None)


def _nodes(recipe: Recipe, target: str) -> CapabilityRejected | None:
    nodes = recipe.gpu.nodes
    if nodes > 1 and target in ("compose", "deployment"):
        return _rejected(
            f"gpu.nodes is {nodes}: a {target} runs on one machine",
            "render --target lws (vLLM) or --target dynamo, or set gpu.nodes: 1",
            "deployctl: compose services and Deployment pods are single-node",
        )
    if nodes == 1 and target == "lws":
        return _rejected(
            "a LeaderWorkerSet is for gpu.nodes > 1; this recipe runs on one node",
            "render --target deployment, or set gpu.nodes",
            "kubernetes-sigs/lws leaderworkerset_types.go @024af084 (size = pods per group)",
        )
    return None


def _engine(recipe: Recipe, target: str) -> CapabilityRejected | None:
    engine, cpu = recipe.engine.name, recipe.gpu.is_cpu
    row = engine_facts(engine)
    if target == "lws" and isinstance(row.multinode, Refusal):
        return _refused_by_row(row.multinode)
    if target in ("lws", "dynamo") and (row.development_engine or cpu):
        return _rejected(
            f"{target} needs GPU workers of vLLM or TensorRT-LLM (this recipe: {engine.value} on "
            f"{'cpu' if cpu else recipe.gpu.type})",
            "render --target deployment or compose",
            "ai-dynamo/dynamo docs/kubernetes/dgd-guide.md @b13586eb (backends: vLLM, SGLang, TensorRT-LLM)",
            field="engine.name",
        )
    if target == "dynamo" and isinstance(row.dynamo, Refusal):
        return _refused_by_row(row.dynamo)
    return None


def _dynamo_limits(recipe: Recipe, target: str) -> CapabilityRejected | None:
    if target != "dynamo":
        return None
    if recipe.serve.api_key_env:
        return _rejected(
            "Dynamo's frontend serves the API, not vLLM's server: VLLM_API_KEY would not be enforced "
            "(an API-key option of the Dynamo frontend was not confirmed)",
            "drop serve.api_key_env and protect the frontend Service yourself, or use --target deployment",
            "vLLM entrypoints/serve/middleware/authenticate.py (the key check lives in vLLM's API server)",
            field="serve.api_key_env",
        )
    worker = engine_facts(recipe.engine.name).dynamo
    if isinstance(worker, DynamoWorker) and not worker.passes_extra_args and recipe.engine.extra_args:
        return _rejected(
            f"engine.extra_args are {recipe.engine.name} server flags; {worker.module} has its own command line",
            "move the options into the recipe's typed fields, or use --target deployment",
            f"{worker.module}'s argument parser (data/engines.yaml, {recipe.engine.name}: dynamo.passes_extra_args)",
            field="engine.extra_args",
        )
    return None


def _refused_by_row(refusal: Refusal) -> CapabilityRejected:
    return _rejected(refusal.reason, refusal.fix, refusal.source, field=refusal.field)


def _rejected(reason: str, fix: str, source: str, field: str = "gpu.nodes") -> CapabilityRejected:
    return CapabilityRejected(reason, hint=f"{fix} (source: {source})", field=field)


_RULES: tuple[Callable[[Recipe, str], CapabilityRejected | None], ...] = (_nodes, _engine, _dynamo_limits)


def kubernetes_spec(recipe: Recipe) -> LaunchSpec:
    """The portable LaunchSpec the Kubernetes targets draw (same adapter as compose and apply)."""
    from deployctl.render.compose import ENGINE_CACHE_VOLUME, HF_CACHE_SOURCE
    from deployctl.render.from_recipe import render_input

    return render_input(
        recipe, hf_cache=HF_CACHE_SOURCE, engine_cache=ENGINE_CACHE_VOLUME, portable=True
    ).spec


def render_target(recipe: Recipe, target: str, *, recipe_path: str, portable: bool = False) -> str:
    """The file text for one recipe and one target; raises the refusal when the pair cannot work."""
    found = refusal(recipe, target)
    if found is not None:
        found.file = recipe_path
        raise found
    if target == "compose":
        from deployctl.render.compose import render_recipe_compose

        return render_recipe_compose(recipe, recipe_path=recipe_path, portable=portable)
    return _render_kubernetes(recipe, target, recipe_path)


def _render_kubernetes(recipe: Recipe, target: str, recipe_path: str) -> str:
    from deployctl.render import kube_pod, kubernetes

    spec = kubernetes_spec(recipe)
    nodes = recipe.gpu.nodes
    if target == "deployment":
        documents, extra = kubernetes.render_deployment(spec), kubernetes.ROLLOUT_NOTE
    elif target == "lws":
        from deployctl.render.lws import render_lws

        documents, extra = (
            render_lws(spec, nodes),
            "Needs the LeaderWorkerSet controller and a ReadWriteMany StorageClass.",
        )
    else:
        from deployctl.render.dynamo import dynamo_release, render_dynamo

        documents = render_dynamo(spec, nodes)
        extra = f"Needs the Dynamo {dynamo_release()['release']} platform (operator); endpoint: Service <name>-frontend:8000."
    header = kubernetes.header(spec, recipe_path=recipe_path, target=target, extra=extra)
    return kube_pod.documents_yaml(documents, header=header)
