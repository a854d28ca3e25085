"""NAME or URL → where to send load, which model to ask for, and what the roofline needs.

A URL is used as given (`/v1` appended when missing). A NAME is a deployment in deployctl's state,
which knows the endpoint, the served model, the API key variable, the GPU and the checkpoint folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deployctl.errors import UsageError, unknown_deployment


@dataclass(frozen=True)
class Target:
    base_url: str  # ends with /v1
    model: str | None = None
    api_key_env: str | None = None
    gpu: str | None = None
    checkpoint: Path | None = None
    gpu_count: int = 1  # tensor parallel: each GPU reads its share of the weights per token
    dummy_weights: bool = False  # engine-initialised: no weight files, the size comes from the shape


def resolve_target(name_or_url: str) -> Target:
    if name_or_url.startswith(("http://", "https://")):
        return Target(base_url=v1_url(name_or_url))
    return _from_state(name_or_url)


def v1_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _from_state(name: str) -> Target:
    from deployctl.state import StateStore

    record = StateStore().load(name)
    if record is None:
        raise unknown_deployment(
            name,
            hint="`deployctl list` shows deployments; or pass the endpoint URL, e.g. http://127.0.0.1:8000",
        )
    from deployctl.recipe.model import dummy_weights_in

    gpu = (record.recipe.get("gpu") or {}).get("type")
    return Target(
        base_url=v1_url(record.endpoint),
        model=record.spec.engine_args.served_name,
        api_key_env=record.spec.api_key_env,
        gpu=gpu if gpu not in (None, "auto", "cpu") else None,
        checkpoint=Path(record.checkpoint_path),
        gpu_count=max(1, record.spec.engine_args.tensor_parallel_size or 1),
        dummy_weights=dummy_weights_in(record.recipe),
    )


def model_bytes_of(target: Target) -> int | None:
    """Bytes read per decoded token: the weight files, or for dummy weights the bf16 size of the shape."""
    if target.checkpoint is None or not target.checkpoint.is_dir():
        return None
    if target.dummy_weights:
        from deployctl.capability.memory import weights_bytes as shape_bytes
        from deployctl.capability.shapes import shape_from_config_file
        from deployctl.recipe.model import QuantFormat

        shape = shape_from_config_file(target.checkpoint / "config.json")
        return shape_bytes(shape, QuantFormat.NONE) if shape else None
    from deployctl.bench.roofline import weights_bytes

    return weights_bytes(target.checkpoint) or None


def first_model(base_url: str, api_key: str) -> str:
    """The first model the server lists (`GET /v1/models`), for servers that serve exactly one."""
    from openai import OpenAI

    try:
        models = OpenAI(base_url=base_url, api_key=api_key, timeout=10, max_retries=0).models.list()
    except Exception as exc:
        raise UsageError(
            f"cannot list models at {base_url}: {type(exc).__name__}",
            hint="is the server up? pass --model NAME to skip the lookup",
        ) from None
    if not models.data:
        raise UsageError(f"{base_url}/models lists no model", hint="pass --model NAME")
    return models.data[0].id


def bandwidth_for(gpu: str | None, count: int = 1) -> float | None:
    """Datasheet memory bandwidth (GB/s) of `count` such GPUs from the catalogue, when the GPU is known:
    tensor-parallel ranks read their shares of the weights at the same time."""
    if not gpu:
        return None
    from deployctl.capability.catalogue import find_gpu

    info = find_gpu(gpu)
    if info is None or info.bandwidth_gb_s is None:  # unknown, or a catalogue row without a datasheet figure
        return None
    return info.bandwidth_gb_s * count
