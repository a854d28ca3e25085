"""Several nodes (`gpu.nodes > 1`), vLLM: a LeaderWorkerSet following vLLM's documented recipe.

Sources:
- vLLM "LWS" page, vllm-project/vllm docs/deployment/frameworks/lws.md @051f9b87: one group of
  `size` pods; the leader runs `multi-node-serving.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE)` and
  then the server, workers run `multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)`;
  `restartPolicy: RecreateGroupOnPodRestart`; a ClusterIP Service in front of the leader.
- The script: vllm-project/vllm examples/online_serving/multi-node-serving.sh @2584e94b (starts a Ray
  head and waits until `ray_cluster_size` nodes are alive; workers retry `ray start --address`). The
  vllm-openai image copies `examples/` into its working directory /vllm-workspace (docker/Dockerfile
  @0000977e, stage vllm-base: `WORKDIR /vllm-workspace`, `COPY examples examples`).
- Parallelism: vLLM docs/serving/parallelism_scaling.md @096bd6a4 — tensor parallel = GPUs per node,
  pipeline parallel = nodes, and `--distributed-executor-backend ray` for the Ray route (also vllm PR
  #29173, which added the flag to the documented commands).
- LWS API: kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go @024af084: env
  LWS_LEADER_ADDRESS / LWS_GROUP_SIZE injected into every container; leader pods carry the label
  `leaderworkerset.sigs.k8s.io/worker-index: "0"`; `rolloutStrategy.rollingUpdateConfiguration.
  {maxUnavailable, maxSurge}` ("maxUnavailable can not be 0 if maxSurge is 0").

Choices: the model PVC is ReadWriteMany (the leader and the Ray workers load the same path on
different nodes: "store the model on a distributed file system accessible by all nodes",
parallelism_scaling.md). Workers have no HTTP probe (they run no server; Dynamo's operator also drops
worker probes). Rollouts use maxSurge 1 / maxUnavailable 0 like the Deployment: a whole second group
(nodes × GPUs) during an update, never zero serving groups.

TensorRT-LLM across nodes is refused (targets.py): its only documented multi-node launch is an MPI
world started by Slurm (`srun … trtllm-llmapi-launch trtllm-serve`, trtllm-serve.rst @5c0c175b);
no upstream LWS recipe for trtllm-serve was found.
"""

from __future__ import annotations

import shlex
from typing import Any

from deployctl.launch_spec import LaunchSpec
from deployctl.render import kube_pod as kp

RAY_SCRIPT = "/vllm-workspace/examples/online_serving/multi-node-serving.sh"
SET_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"


def render_lws(spec: LaunchSpec, nodes: int) -> list[dict[str, Any]]:
    """PVC (ReadWriteMany), LeaderWorkerSet of one `nodes`-pod group, Service to the leader."""
    name = kp.kube_name(spec.deployment)
    pod = kp.describe(spec)
    documents = [kp.persistent_volume_claim(spec, name, access_mode="ReadWriteMany")]
    config = kp.config_map(spec, pod, name)
    if config:
        documents.append(config)
    documents.append(_leader_worker_set(spec, pod, name, nodes))
    documents.append(kp.leader_service(spec, name, {SET_NAME_LABEL: name, WORKER_INDEX_LABEL: "0"}))
    return documents


def leader_command(pod: kp.PodDescription) -> list[str]:
    """Start the Ray head, wait for every node, then exec the engine's own command line."""
    engine = shlex.join([*pod.entrypoint, *pod.command])
    script = f"bash {RAY_SCRIPT} leader --ray_cluster_size=$(LWS_GROUP_SIZE) && exec {kp.escape(engine)}"
    return ["sh", "-c", script]


def worker_command() -> list[str]:
    return ["sh", "-c", f"bash {RAY_SCRIPT} worker --ray_address=$(LWS_LEADER_ADDRESS)"]


def _leader_worker_set(spec: LaunchSpec, pod: kp.PodDescription, name: str, nodes: int) -> dict[str, Any]:
    leader = kp.engine_container(spec, pod, name, container="leader")
    leader["command"] = leader_command(pod)
    del leader["args"]  # the engine's arguments are inside the shell line
    worker = {key: value for key, value in leader.items() if not key.endswith("Probe") and key != "ports"}
    worker.update({"name": "worker", "command": worker_command()})
    volumes = kp.pod_volumes(pod, name)
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": kp.metadata(spec, name, "engine"),
        "spec": {
            "replicas": 1,
            "leaderWorkerTemplate": {
                "size": nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": _template(spec, name, "leader", leader, volumes),
                "workerTemplate": _template(spec, name, "worker", worker, volumes),
            },
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "startupPolicy": "LeaderCreated",
        },
    }


def _template(spec: LaunchSpec, name: str, component: str, container: dict, volumes: list) -> dict[str, Any]:
    return {
        "metadata": {"labels": kp.labels(spec, name, component), "annotations": kp.annotations(spec)},
        "spec": {"containers": [container], "volumes": volumes},
    }
