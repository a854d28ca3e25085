"""Offline validity: Kubernetes' own schemas for built-in kinds, the cited API fields for the CRDs,
and the rules the API server enforces that no schema carries.

- Built-in kinds (PVC, ConfigMap, Deployment, Service) and every pod template embedded in a custom
  resource (as a core `v1 PodTemplate`) go through kubernetes-validate's bundled schemas with
  `strict=True` (unknown fields are errors). A kind without a schema raises SchemaNotFoundError: a
  failure, not a skip. kubernetes-validate 1.37.0 bundles schemas for 1.25–1.37 offline.
- LeaderWorkerSet and DynamoGraphDeployment: no CRD schema is vendored, so the fields deployctl writes
  are checked against field lists read from their API references (below, with source and version).
- Not checked anywhere here: admission webhooks, defaulting, CEL rules, scheduling, operators.
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from tests.render.test_kubernetes import CASE_IDS, CASES, cases_for, documents

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
BUILT_IN = {
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
}

# kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go @024af0845195 (LWS v1 API).
LWS_FIELDS = {
    "spec": {"replicas", "leaderWorkerTemplate", "rolloutStrategy", "startupPolicy", "networkConfig"},
    "spec.leaderWorkerTemplate": {
        "leaderTemplate",
        "workerTemplate",
        "size",
        "restartPolicy",
        "subGroupPolicy",
        "volumeClaimTemplates",
        "persistentVolumeClaimRetentionPolicy",
    },
    "spec.rolloutStrategy": {"type", "rollingUpdateConfiguration"},
    "spec.rolloutStrategy.rollingUpdateConfiguration": {"partition", "maxUnavailable", "maxSurge"},
}
LWS_REQUIRED = {"spec": {"leaderWorkerTemplate"}, "spec.leaderWorkerTemplate": {"workerTemplate"}}
LWS_ENUMS = {
    "spec.leaderWorkerTemplate.restartPolicy": {
        "Default",
        "RecreateGroupOnPodRestart",
        "RecreateGroupAfterStart",
        "None",
    },
    "spec.startupPolicy": {"LeaderCreated", "LeaderReady"},
    "spec.rolloutStrategy.type": {"RollingUpdate"},
}

# nvidia.com/v1beta1 DynamoGraphDeployment: graph level from ai-dynamo/dynamo docs/kubernetes/
# dgd-guide.md @b13586eb (only the fields that page documents); component level from the v1beta1 DCD
# reference "Shared component spec" (docs.nvidia.com/dynamo/v1.5.0/reference/api/kubernetes/
# dynamo-component-deployment.md; page source read in the fern docs, 2026).
DGD_SPEC_FIELDS = {"components", "backendFramework"}
DGD_BACKENDS = {"sglang", "vllm", "trtllm"}
DGD_COMPONENT_FIELDS = {
    "providerOverride",
    "name",
    "type",
    "lpx",
    "runtimeVersionOverride",
    "replicas",
    "minAvailable",
    "podTemplate",
    "multinode",
    "roles",
    "sharedMemorySize",
    "globalDynamoNamespace",
    "modelRef",
    "scalingAdapter",
    "frontendSidecar",
    "compilationCache",
    "eppConfig",
    "topologyConstraint",
    "experimental",
}
DGD_COMPONENT_TYPES = {"frontend", "worker", "prefill", "decode", "planner", "epp", "lpx"}
DGD_COMPONENT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$")
DGD_MULTINODE_FIELDS = {"nodeCount"}

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?([KMGTPE]i|[kMGTPE])?$")


def pod_templates(doc: dict) -> list[dict]:
    """Every PodTemplateSpec in an object, wherever the kind keeps it."""
    if doc["kind"] == "Deployment":
        return [doc["spec"]["template"]]
    if doc["kind"] == "LeaderWorkerSet":
        template = doc["spec"]["leaderWorkerTemplate"]
        return [template["leaderTemplate"], template["workerTemplate"]]
    if doc["kind"] == "DynamoGraphDeployment":
        return [component["podTemplate"] for component in doc["spec"]["components"]]
    return []


# ------------------------------------------------------------------------- Kubernetes' own schemas


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("path", "target"), CASES, ids=CASE_IDS)
def test_built_in_objects_and_embedded_pod_templates_pass_the_strict_schema(path, target, version) -> None:
    for doc in documents(path, target):
        if (doc["apiVersion"], doc["kind"]) in BUILT_IN:
            kubernetes_validate.validate(doc, version, strict=True)
        else:
            assert doc["kind"] in ("LeaderWorkerSet", "DynamoGraphDeployment"), (
                f"unexpected kind {doc['kind']}"
            )
        for template in pod_templates(doc):
            wrapped = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": "t"},
                "template": template,
            }
            kubernetes_validate.validate(wrapped, version, strict=True)


def test_the_strict_schema_catches_an_unknown_field_and_a_missing_kind_is_an_error() -> None:
    path, target = next(case for case in CASES if case[1] == "deployment")
    deployment = next(doc for doc in documents(path, target) if doc["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(
            {"apiVersion": "nvidia.com/v1beta1", "kind": "DynamoGraphDeployment"}, "1.37.0"
        )


# ------------------------------------------------------------------------- custom resources, by field


def _at(doc: dict, dotted: str):
    node = doc
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


@pytest.mark.parametrize(("path", "target"), **cases_for("lws"))
def test_leader_worker_sets_use_only_the_fields_of_the_lws_v1_api(path, target) -> None:
    lws = next(doc for doc in documents(path, target) if doc["kind"] == "LeaderWorkerSet")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    for where, allowed in LWS_FIELDS.items():
        node = _at(lws, where)
        if node is not None:
            assert set(node) <= allowed, f"{where}: unknown {sorted(set(node) - allowed)}"
    for where, required in LWS_REQUIRED.items():
        assert required <= set(_at(lws, where)), f"{where} lacks {required}"
    for where, values in LWS_ENUMS.items():
        assert _at(lws, where) in values | {None}, f"{where}={_at(lws, where)}"
    rolling = lws["spec"]["rolloutStrategy"]["rollingUpdateConfiguration"]
    assert not (
        rolling["maxUnavailable"] == 0 and rolling["maxSurge"] == 0
    )  # "can not be 0 if MaxSurge is 0"


@pytest.mark.parametrize(("path", "target"), **cases_for("dynamo"))
def test_dynamo_graphs_use_only_the_fields_of_the_v1beta1_reference(path, target) -> None:
    graph = next(doc for doc in documents(path, target) if doc["kind"] == "DynamoGraphDeployment")
    assert graph["apiVersion"] == "nvidia.com/v1beta1"
    assert set(graph["spec"]) <= DGD_SPEC_FIELDS
    assert graph["spec"]["backendFramework"] in DGD_BACKENDS
    for component in graph["spec"]["components"]:
        assert set(component) <= DGD_COMPONENT_FIELDS, sorted(set(component) - DGD_COMPONENT_FIELDS)
        assert component["type"] in DGD_COMPONENT_TYPES
        assert DGD_COMPONENT_NAME.match(component["name"]) and len(component["name"]) <= 63
        assert set(component.get("multinode", {})) <= DGD_MULTINODE_FIELDS
        assert component.get("multinode", {}).get("nodeCount", 2) >= 2
        if "sharedMemorySize" in component:
            assert QUANTITY.match(component["sharedMemorySize"])
        mains = [c for c in component["podTemplate"]["spec"]["containers"] if c["name"] == "main"]
        assert len(mains) == 1 and mains[0]["image"], "every component needs containers[name=main].image"


# ------------------------------------------------------------------------- what only the API server checks


def _containers(template: dict) -> list[dict]:
    return template["spec"]["containers"]


def _labels_are_valid(labels: dict[str, str]) -> None:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        assert LABEL_NAME.match(name) and len(name) <= 63, f"label key {key}"
        assert not prefix or (
            len(prefix) <= 253 and all(DNS_1123_LABEL.match(p) for p in prefix.split("."))
        ), key
        assert LABEL_VALUE.match(value) and len(value) <= 63, f"label value {key}={value}"


@pytest.mark.parametrize(("path", "target"), CASES, ids=CASE_IDS)
def test_names_labels_gpus_volumes_and_ports_follow_the_api_servers_rules(path, target) -> None:
    for doc in documents(path, target):
        assert DNS_1035_LABEL.match(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 63
        _labels_are_valid(doc["metadata"].get("labels", {}))
        for template in pod_templates(doc):
            _labels_are_valid(template.get("metadata", {}).get("labels", {}))
            spec = template["spec"]
            assert not {"hostIPC", "hostNetwork", "hostPID"} & set(spec), (
                "Pod Security baseline forbids host namespaces"
            )
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            assert not any("hostPath" in v for v in volumes.values()), (
                "Pod Security baseline forbids hostPath"
            )
            for container in _containers(template):
                _container_is_consistent(container, volumes)
        if doc["kind"] == "Deployment":
            select = doc["spec"]["selector"]["matchLabels"]
            assert select.items() <= doc["spec"]["template"]["metadata"]["labels"].items()


def _container_is_consistent(container: dict, volumes: dict) -> None:
    assert DNS_1123_LABEL.match(container["name"])
    resources = container.get("resources", {})
    if "nvidia.com/gpu" in resources.get("requests", {}):
        assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"]
        assert resources["limits"]["nvidia.com/gpu"].isdigit()
    for mount in container.get("volumeMounts", []):
        assert mount["name"] in volumes, f"mount {mount['mountPath']} has no volume"
    paths = [m["mountPath"] for m in container.get("volumeMounts", [])]
    assert len(paths) == len(set(paths)), "two mounts at one path"
    names = [e["name"] for e in container.get("env", [])]
    assert len(names) == len(set(names)), "an environment variable twice"
    ports = {p["name"] for p in container.get("ports", [])}
    assert all(len(p) <= 15 for p in ports)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe in container:
            assert container[probe]["httpGet"]["port"] in ports
    for volume in volumes.values():
        if "emptyDir" in volume and "sizeLimit" in volume["emptyDir"]:
            assert QUANTITY.match(volume["emptyDir"]["sizeLimit"])
