"""NVIDIA Dynamo: a `DynamoGraphDeployment` (nvidia.com/v1beta1) with a frontend and one worker.

Sources: ai-dynamo/dynamo docs/kubernetes/dgd-guide.md @b13586eb (v1beta1 shape: `spec.components[]`
with `name`, `type`, `replicas`, `multinode.nodeCount`, `sharedMemorySize`, `podTemplate` whose
container `main` gets the operator's defaults; worker commands `python3 -m dynamo.vllm --model …
--tensor-parallel-size …` and `python3 -m dynamo.trtllm --model-path … --extra-engine-args <yaml>`;
"GPU limit must equal TP × PP per node"; the operator's `<name>-frontend` ClusterIP Service on 8000);
the v1beta1 DCD reference (docs.nvidia.com/dynamo/v1.5.0/reference/api/kubernetes/
dynamo-component-deployment.md: "By default the operator injects command, environment, port, probe,
resource, and volume-mount defaults into … containers[name=main]"; `sharedMemorySize` default 8Gi);
dynamo.vllm builds its parser from vLLM's `AsyncEngineArgs.add_cli_args` (components/src/dynamo/vllm/
args.py @000a36a7); dynamo.trtllm flags `--model` (alias `--model-path`), `--served-model-name`,
`--tensor-parallel-size`, `--pipeline-parallel-size`, `--max-batch-size`, `--max-seq-len`,
`--extra-engine-args` (components/src/dynamo/trtllm/backend_args.py @0a6a115c, newer than 1.5.0: not
confirmed for the pinned image). The release: data/dynamo.yaml; each engine's worker (image, module,
component name, which argument builder): its `dynamo` entry in data/engines.yaml.

Where the mapping is not one-to-one:

| LaunchSpec / compose              | DynamoGraphDeployment                                   | why                                   |
|-----------------------------------|---------------------------------------------------------|---------------------------------------|
| image (vllm-openai, trtllm release)| Dynamo runtime image (engines.yaml `dynamo.image`)     | workers run `python3 -m dynamo.*`     |
| argv `vllm serve …`/`trtllm-serve`| worker args rebuilt from `engine_args` (structured)     | different entry points                 |
| `--host/--port`, published port   | operator's frontend Service `<name>-frontend:8000`      | the frontend serves HTTP, not the engine |
| health path probes                | operator-injected probes (Dynamo's own endpoints)       | not rendered                           |
| `VLLM_API_KEY` (api_key_env)      | refused                                                 | vLLM's key middleware is not in Dynamo's frontend |
| gpu-memory-utilization, max-num-batched-tokens, enforce-eager, dtype (vLLM) | same flags (vLLM's own parser) | |
| kv-cache-memory-bytes (vLLM CPU)  | not carried                                             | a CPU-engine setting; Dynamo runs GPUs |
| trtllm options YAML               | same ConfigMap, `--extra-engine-args`                   | kv_cache_config lives there            |
| /dev/shm emptyDir                 | `sharedMemorySize`                                      | operator mounts it                     |
| gpu.nodes > 1                     | `multinode.nodeCount`, PP = nodes                       | operator writes the Ray/MPI bootstrap  |
| env names, mounts, PVC, Secret    | identical                                               |                                       |
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from deployctl.engine_facts import DynamoWorker, engine_facts
from deployctl.errors import CapabilityRejected
from deployctl.launch_spec import LaunchSpec
from deployctl.render import kube_pod as kp


@cache
def dynamo_release() -> dict[str, Any]:
    """data/dynamo.yaml: the pinned Dynamo release and its CRD version."""
    return yaml.safe_load(resources.files("deployctl.data").joinpath("dynamo.yaml").read_text())


def dynamo_worker(engine: str) -> DynamoWorker:
    """The engine row's Dynamo worker; targets.py refuses engines without one before rendering."""
    worker = engine_facts(engine).dynamo
    if not isinstance(worker, DynamoWorker):
        raise CapabilityRejected(f"{engine} has no Dynamo worker", field="engine.name")
    return worker


def worker_args(spec: LaunchSpec, nodes: int) -> list[str]:
    """The worker's engine flags, from the structured arguments (never from the argv)."""
    return _WORKER_ARGS[dynamo_worker(spec.engine).args](spec, nodes)


def _vllm_args(spec: LaunchSpec, nodes: int) -> list[str]:
    engine = spec.engine_args
    args = ["--model", engine.model, "--served-model-name", engine.served_name]
    args += _parallel(engine.tensor_parallel_size, nodes)
    optional = {
        "--quantization": engine.quantization,
        "--kv-cache-dtype": engine.kv_cache_dtype,
        "--max-model-len": engine.max_model_len,
        "--max-num-seqs": engine.max_batch_size,
        "--max-num-batched-tokens": engine.max_num_tokens,
        "--gpu-memory-utilization": None
        if engine.gpu_memory_utilization is None
        else f"{engine.gpu_memory_utilization:g}",
        "--dtype": engine.dtype,
    }
    args += [part for flag, value in optional.items() if value is not None for part in (flag, str(value))]
    args += ["--enforce-eager"] if engine.enforce_eager else []
    return args + list(engine.extra_args)


def _trtllm_args(spec: LaunchSpec, nodes: int) -> list[str]:
    engine = spec.engine_args
    # The served name is the model folder, as trtllm-serve reports it (no served-name option there).
    args = ["--model-path", engine.model, "--served-model-name", engine.served_name]
    args += _parallel(engine.tensor_parallel_size, nodes)
    optional = {"--max-batch-size": engine.max_batch_size, "--max-seq-len": engine.max_model_len}
    args += [part for flag, value in optional.items() if value is not None for part in (flag, str(value))]
    for file in spec.files:
        args += ["--extra-engine-args", file.target]
    return args


_WORKER_ARGS: dict[str, Callable[[LaunchSpec, int], list[str]]] = {"vllm": _vllm_args, "trtllm": _trtllm_args}


def _parallel(tensor: int, nodes: int) -> list[str]:
    args = ["--tensor-parallel-size", str(tensor)] if tensor > 1 else []
    return args + (["--pipeline-parallel-size", str(nodes)] if nodes > 1 else [])


def render_dynamo(spec: LaunchSpec, nodes: int) -> list[dict[str, Any]]:
    """PVC, ConfigMap (trtllm options), and the DynamoGraphDeployment."""
    name = kp.kube_name(spec.deployment)
    pod = kp.describe(spec)
    access = "ReadWriteMany" if nodes > 1 else "ReadWriteOnce"
    documents = [kp.persistent_volume_claim(spec, name, access_mode=access)]
    config = kp.config_map(spec, pod, name)
    if config:
        documents.append(config)
    documents.append(_graph(spec, pod, name, nodes))
    return documents


def _graph(spec: LaunchSpec, pod: kp.PodDescription, name: str, nodes: int) -> dict[str, Any]:
    release, row = dynamo_release(), dynamo_worker(spec.engine)
    main: dict[str, Any] = {
        "name": "main",
        "image": row.image,
        "command": ["python3", "-m", row.module],
        "args": [kp.escape(part) for part in worker_args(spec, nodes)],
        "env": kp.environment(pod, name),
    }
    gpus = kp.gpu_resources(pod.gpu_count)
    if gpus:
        main["resources"] = gpus
    main["volumeMounts"] = kp.volume_mounts(pod, shm=False)
    worker: dict[str, Any] = {"name": row.worker, "type": "worker", "replicas": 1}
    if nodes > 1:
        worker["multinode"] = {"nodeCount": nodes}
    worker["sharedMemorySize"] = kp.quantity(pod.shm_size)
    worker["podTemplate"] = {
        "metadata": {"labels": kp.labels(spec, name, "worker"), "annotations": kp.annotations(spec)},
        "spec": {"containers": [main], "volumes": kp.pod_volumes(pod, name, shm=False)},
    }
    frontend = {
        "name": "Frontend",
        "type": "frontend",
        "replicas": 1,
        "podTemplate": {"spec": {"containers": [{"name": "main", "image": row.image}]}},
    }
    return {
        "apiVersion": release["api_version"],
        "kind": "DynamoGraphDeployment",
        "metadata": kp.metadata(spec, name, "graph"),
        "spec": {"backendFramework": spec.engine, "components": [frontend, worker]},
    }
