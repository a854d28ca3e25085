"""A LaunchSpec as a Kubernetes container and its pod volumes: the part every Kubernetes target shares.

Built on `render.pod.describe_pod` (the neutral container description compose also draws), so a
Deployment, a LeaderWorkerSet and a DynamoGraphDeployment start the image, command line, environment
and mounts `deployctl apply` starts. What this adapter adds, and why:

- Names: Kubernetes object names are DNS labels (lowercase alphanumerics and '-', at most 63
  characters; a Service name must also start with a letter). A recipe name such as
  `llama3.1-8b-h100-trtllm` becomes `llama3-1-8b-h100-trtllm`; names longer than 40 characters are cut
  and suffixed with a hash so the objects derived from them (`<name>-models`, pod names) still fit.
- Labels: automated tools must prefix their label keys (kubernetes.io/docs/concepts/overview/
  working-with-objects/labels/#syntax-and-character-set), so the `deployctl.*` keys docker uses become
  `deployctl.io/*`, next to the recommended `app.kubernetes.io/*` labels. The LaunchSpec hash is an
  annotation (`deployctl.io/spec-hash`) on the object and the pod template: any change to how the engine
  runs changes the template, which is what starts a rollout.
- Secrets (convention): one Secret per deployment, named `<name>-secrets`, created by the operator;
  its keys are the *operator variable names* the recipe gives (`serve.api_key_env`, e.g.
  `DEPLOYCTL_API_KEY`). A secret engine variable reads `secretKeyRef{name: <name>-secrets, key: <that
  name>}`, so no value is ever rendered. Passthrough variables (HF_TOKEN, NCCL switches) read the same
  Secret with `optional: true`: set when the key exists, absent otherwise — compose's "copied when set".
  `kubectl create secret generic <name>-secrets --from-literal=DEPLOYCTL_API_KEY=... [--from-literal=HF_TOKEN=...]`
- Model storage (decision): in Kubernetes the checkpoint comes from a PersistentVolumeClaim
  `<name>-models`, never from a host path (hostPath is forbidden by the Pod Security "baseline"
  profile). The PVC holds `<checkpoint folder>/` (the folder `deployctl quantize` produced, copied there
  by the operator), `hf-cache/` and `engine-cache/`; the container sees them at the same paths
  `deployctl apply` mounts. deployctl does not copy the checkpoint: a pod started on an empty PVC fails
  on the missing model, which the startup probe reports.
- Shared memory: `/dev/shm` is a memory-backed emptyDir sized like compose's `shm_size` (vLLM's
  Kubernetes page; `hostIPC` would be the equivalent of docker's `ipc: host` but is baseline-forbidden).
  Its usage counts against the container's memory limit (EmptyDirVolumeSource.sizeLimit API text).
- Probes: startup, readiness and liveness all GET the engine's health path on the engine port. The
  startup probe allows `startup_budget_s` (the recipe's `serve.health_timeout_s`, default 900 s; vLLM
  took ~2 min to become healthy on an H100 with compile); vLLM's Kubernetes page warns that a too-short
  startup budget kills a loading server.
- `$` in commands and environment values is written `$$`: the kubelet expands `$(VAR)` there, and
  reduces `$$` to a literal `$` (EnvVar.value API text).
"""

import hashlib
import math
import re
from pathlib import PurePosixPath
from typing import Any

import yaml

from deployctl import __version__
from deployctl.errors import UsageError
from deployctl.launch_spec import LaunchSpec
from deployctl.render.pod import PodDescription, Volume, describe_pod

LABEL_PREFIX = "deployctl.io/"
SPEC_HASH_ANNOTATION = "deployctl.io/spec-hash"
NAME_MAX = 40
GPU_RESOURCE = (
    "nvidia.com/gpu"  # NVIDIA device plugin resource (kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/)
)
PORT_NAME = "http"
MODELS_VOLUME = "models"
CONFIG_VOLUME = "config"
SHM_VOLUME = "dshm"
SHM_PATH = "/dev/shm"
DEFAULT_SHM = "8g"
PVC_SIZE = "200Gi"  # a checkpoint plus the HF and compile caches; edit for larger models
_DOCKER_SIZE = re.compile(r"^(\d+)([bkmg]?)$")
_K8S_UNIT = {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi"}


def kube_name(deployment: str) -> str:
    """The deployment name as a DNS-1035 label that leaves room for derived names."""
    name = re.sub(r"[^a-z0-9-]+", "-", deployment.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"d-{name}".rstrip("-")
    if len(name) > NAME_MAX:
        digest = hashlib.sha256(deployment.encode()).hexdigest()[:6]
        name = f"{name[: NAME_MAX - 7].rstrip('-')}-{digest}"
    return name


def secret_name(name: str) -> str:
    return f"{name}-secrets"


def labels(spec: LaunchSpec, name: str, component: str) -> dict[str, str]:
    """Recommended `app.kubernetes.io/*` labels plus deployctl's ownership labels."""
    return {
        "app.kubernetes.io/name": spec.engine,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "deployctl",
        f"{LABEL_PREFIX}deployment": spec.deployment,
        f"{LABEL_PREFIX}engine": spec.engine,
        f"{LABEL_PREFIX}version": __version__,
    }


def selector(name: str, component: str) -> dict[str, str]:
    """The labels a controller selects on: stable across spec changes (selectors are immutable)."""
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": component}


def annotations(spec: LaunchSpec) -> dict[str, str]:
    return {SPEC_HASH_ANNOTATION: spec.spec_hash()}


def metadata(
    spec: LaunchSpec, name: str, component: str, *, object_name: str | None = None
) -> dict[str, Any]:
    """`object_name` names a derived object (`<name>-models`); labels always carry the instance `name`."""
    return {
        "name": object_name or name,
        "labels": labels(spec, name, component),
        "annotations": annotations(spec),
    }


def quantity(docker_size: str | None) -> str:
    """Docker's `8g` as the Kubernetes quantity `8Gi` (docker's k/m/g are binary units)."""
    match = _DOCKER_SIZE.match((docker_size or DEFAULT_SHM).strip().lower())
    if not match:
        raise UsageError(
            f"cannot read the size '{docker_size}'", hint="use e.g. 8g, 512m", field="runtime.shm_size"
        )
    return f"{match.group(1)}{_K8S_UNIT[match.group(2)]}"


def escape(text: str) -> str:
    """A literal string the kubelet will not expand (`$(VAR)` references; `$$` → `$`)."""
    return text.replace("$", "$$")


def describe(spec: LaunchSpec) -> PodDescription:
    return describe_pod(spec, role="kubernetes")


def environment(pod: PodDescription, name: str) -> list[dict[str, Any]]:
    """Literal values, then secrets by reference, then optional passthrough references."""
    env: list[dict[str, Any]] = [{"name": key, "value": escape(value)} for key, value in pod.env.items()]
    seen = set(pod.env)
    for engine_var, operator_var in pod.secret_env.items():
        ref: dict[str, Any] = {"name": secret_name(name), "key": operator_var}
        env.append({"name": engine_var, "valueFrom": {"secretKeyRef": ref}})
        seen.add(engine_var)
    for passthrough in pod.passthrough_env:
        if passthrough in seen:
            continue
        ref = {"name": secret_name(name), "key": passthrough, "optional": True}
        env.append({"name": passthrough, "valueFrom": {"secretKeyRef": ref}})
        seen.add(passthrough)
    return env


def volume_mounts(pod: PodDescription, *, shm: bool = True) -> list[dict[str, Any]]:
    """Every LaunchSpec mount at its container path; the PVC sub-folder depends on its purpose."""
    mounts = [_mount(volume) for volume in pod.volumes]
    for file in pod.config_files:
        mounts.append(
            {"name": CONFIG_VOLUME, "mountPath": file.target, "subPath": file.name, "readOnly": True}
        )
    if shm:
        mounts.append({"name": SHM_VOLUME, "mountPath": SHM_PATH})
    return mounts


def pvc_subpath(volume: Volume) -> str:
    """Where a mount lives on the `<name>-models` PVC: the checkpoint folder keeps its name."""
    if volume.purpose == "checkpoint":
        return PurePosixPath(volume.target).name
    if volume.purpose in ("hf-cache", "engine-cache"):
        return volume.purpose
    raise UsageError(f"no Kubernetes volume for a '{volume.purpose}' mount at {volume.target}")


def _mount(volume: Volume) -> dict[str, Any]:
    mount: dict[str, Any] = {
        "name": MODELS_VOLUME,
        "mountPath": volume.target,
        "subPath": pvc_subpath(volume),
    }
    if volume.read_only:
        mount["readOnly"] = True
    return mount


def pod_volumes(pod: PodDescription, name: str, *, shm: bool = True) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": MODELS_VOLUME, "persistentVolumeClaim": {"claimName": f"{name}-models"}}
    ]
    if pod.config_files:
        volumes.append({"name": CONFIG_VOLUME, "configMap": {"name": f"{name}-config"}})
    if shm:
        volumes.append(
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": quantity(pod.shm_size)}}
        )
    return volumes


def gpu_resources(gpu_count: int) -> dict[str, Any]:
    """GPUs are limits; a request, when given, must equal the limit (scheduling-gpus page)."""
    if gpu_count <= 0:
        return {}
    count = str(gpu_count)
    return {"limits": {GPU_RESOURCE: count}, "requests": {GPU_RESOURCE: count}}


def probes(spec: LaunchSpec, pod: PodDescription) -> dict[str, Any]:
    """Startup covers the whole cold start; after it, readiness and liveness use compose's cadence."""

    def get() -> dict[str, Any]:
        return {"path": spec.health_path, "port": PORT_NAME}

    period, timeout, retries = pod.health.interval_s, pod.health.timeout_s, pod.health.retries
    startup_failures = max(1, math.ceil(pod.health.start_period_s / period))
    return {
        "startupProbe": {
            "httpGet": get(),
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": startup_failures,
        },
        "readinessProbe": {
            "httpGet": get(),
            "periodSeconds": 5,
            "timeoutSeconds": timeout,
            "failureThreshold": retries,
        },
        "livenessProbe": {
            "httpGet": get(),
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": retries,
        },
    }


def engine_container(
    spec: LaunchSpec, pod: PodDescription, name: str, *, container: str = "engine"
) -> dict[str, Any]:
    """The engine container exactly as `deployctl apply` starts it, with probes on the health path."""
    body: dict[str, Any] = {
        "name": container,
        "image": pod.image,
        "command": [escape(part) for part in pod.entrypoint],
        "args": [escape(part) for part in pod.command],
        "ports": [{"name": PORT_NAME, "containerPort": spec.listen_port, "protocol": "TCP"}],
        "env": environment(pod, name),
    }
    resources = gpu_resources(pod.gpu_count)
    if resources:
        body["resources"] = resources
    body["volumeMounts"] = volume_mounts(pod)
    body.update(probes(spec, pod))
    return body


def persistent_volume_claim(spec: LaunchSpec, name: str, *, access_mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(spec, name, "storage", object_name=f"{name}-models"),
        "spec": {"accessModes": [access_mode], "resources": {"requests": {"storage": PVC_SIZE}}},
    }


def config_map(spec: LaunchSpec, pod: PodDescription, name: str) -> dict[str, Any] | None:
    """The generated engine files (trtllm's extra options) as a ConfigMap, one key per file."""
    if not pod.config_files:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, name, "config", object_name=f"{name}-config"),
        "data": {file.name: file.content for file in pod.config_files},
    }


def leader_service(spec: LaunchSpec, name: str, select: dict[str, str]) -> dict[str, Any]:
    """ClusterIP Service on the recipe's port, forwarding to the engine's named port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, name, "service"),
        "spec": {
            "type": "ClusterIP",
            "selector": select,
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": spec.port or spec.container_port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def documents_yaml(documents: list[dict[str, Any]], *, header: str) -> str:
    """A multi-document YAML file (`kubectl apply -f`), keys in the order written, header as comments."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    bodies = [
        yaml.dump(
            doc,
            Dumper=_NoAliasDumper,
            sort_keys=False,
            default_flow_style=False,
            width=1000,
            allow_unicode=True,
        )
        for doc in documents
    ]
    return comments + "---\n" + "---\n".join(bodies)


class _NoAliasDumper(yaml.SafeDumper):
    """Templates share sub-dicts (leader and worker volumes); write each copy out, never `&id001`."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
