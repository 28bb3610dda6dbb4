"""Checks that upstream enforces outside plain OpenAPI: CEL rules, capmox webhooks and CAPI webhooks.

`cel_violations` is pure (no CRD files needed) and runs as the renderer's self-check. `CrdSchemas` validates
objects against the openAPIV3Schema of the upstream CRDs (used by the tests with ../shared/crds) and also
reports fields the API server would silently prune (a misspelt field is otherwise invisible).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from .spec import MIN_BOOT_VOLUME_GB, PROXMOX_TAG

MAX_CRD_BYTES = 4 * 1024 * 1024
NET_NAME = re.compile(r"^net(\d+)$")


class SchemaViolation(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _machine_spec_violations(where: str, spec: dict) -> list[str]:
    problems = []
    has_selector = "templateSelector" in spec
    # ProxmoxMachine CEL: [has(sourceNode), has(templateSelector)].exists_one / same for templateID.
    if has_selector == ("sourceNode" in spec) or has_selector == ("templateID" in spec):
        problems.append(f"{where}: exactly one of sourceNode+templateID or templateSelector is required")
    if has_selector:
        tags = spec["templateSelector"].get("matchTags") or []
        if not tags:
            problems.append(f"{where}: templateSelector.matchTags needs at least one tag")
        problems += [f"{where}: bad matchTags item {t!r}" for t in tags if not PROXMOX_TAG.match(str(t))]
    full = spec.get("full", True)
    if not full and "format" in spec:
        problems.append(f"{where}: format is only allowed with a full clone")
    if not full and "storage" in spec:
        problems.append(f"{where}: storage is only allowed with a full clone")
    memory = spec.get("memoryMiB")
    if memory is not None and (memory < 0 or memory % 8):
        problems.append(f"{where}: memoryMiB {memory} is not a non-negative multiple of 8")
    boot = (spec.get("disks") or {}).get("bootVolume")
    if boot is not None:
        if not boot.get("disk"):
            problems.append(f"{where}: bootVolume.disk is required")
        if int(boot.get("sizeGb", 0)) < MIN_BOOT_VOLUME_GB:
            problems.append(f"{where}: bootVolume.sizeGb must be >= {MIN_BOOT_VOLUME_GB}")
    problems += _network_violations(where, (spec.get("network") or {}).get("networkDevices"))
    id_range = spec.get("vmIDRange")
    if id_range is not None and not (100 <= id_range.get("start", 0) <= id_range.get("end", -1) <= 999_999_999):
        problems.append(f"{where}: vmIDRange must satisfy 100 <= start <= end <= 999999999")
    if "tags" in spec:
        if not spec["tags"]:
            problems.append(f"{where}: tags needs at least one item")
        problems += [f"{where}: bad tag {t!r}" for t in spec["tags"] if not PROXMOX_TAG.match(str(t))]
    return problems


def _network_violations(where: str, devices: list | None) -> list[str]:
    if not devices:
        return [f"{where}: network.networkDevices is required"]
    problems = []
    names = [d.get("name", "net0") for d in devices]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate network device names {names}")
    numbers = []
    for name in names:
        match = NET_NAME.match(name)
        if not match:
            problems.append(f"{where}: network device name {name!r} must be netN")
        else:
            numbers.append(int(match.group(1)))
    # capmox webhook: names must be consecutive net0, net1, ...
    if sorted(numbers) != list(range(len(numbers))):
        problems.append(f"{where}: network device names must be consecutive from net0, got {names}")
    if sum(1 for d in devices if d.get("defaultIPv4")) > 1:
        problems.append(f"{where}: at most one device may set defaultIPv4")
    for device in devices:
        vlan = device.get("vlan")
        if vlan is not None and not 1 <= vlan <= 4094:
            problems.append(f"{where}: VLAN {vlan} outside 1..4094")
        mtu = device.get("mtu")
        if mtu is not None and not (mtu == 1 or 576 <= mtu <= 65520):
            problems.append(f"{where}: invalid MTU {mtu}")
        if "bridge" in device and not device["bridge"]:
            problems.append(f"{where}: bridge must not be empty")
    return problems


def _ref_violations(where: str, ref: dict | None) -> list[str]:
    if not ref:
        return [f"{where}: reference missing"]
    problems = [f"{where}: reference needs {key}" for key in ("apiGroup", "kind", "name") if not ref.get(key)]
    if "apiVersion" in ref or "namespace" in ref:
        problems.append(f"{where}: v1beta2 references use apiGroup, not apiVersion/namespace")
    return problems


def cel_violations(obj: dict) -> list[str]:
    kind = obj.get("kind")
    where = f"{kind}/{obj.get('metadata', {}).get('name')}"
    spec = obj.get("spec") or {}
    if kind == "ProxmoxMachineTemplate":
        return _machine_spec_violations(where, spec.get("template", {}).get("spec", {}))
    if kind == "ProxmoxMachine":
        return _machine_spec_violations(where, spec)
    if kind == "ProxmoxCluster":
        problems = []
        if not spec.get("dnsServers"):
            problems.append(f"{where}: dnsServers needs at least one entry")
        if "ipv4Config" not in spec and "ipv6Config" not in spec:
            problems.append(f"{where}: ipv4Config or ipv6Config is required")
        if "ipv4Config" in spec and not spec["ipv4Config"].get("addresses"):
            problems.append(f"{where}: ipv4Config.addresses must not be empty")
        if spec.get("externalManagedControlPlane") and spec.get("controlPlaneEndpoint"):
            # Kamaji refuses to patch a pre-set endpoint that differs ("mismatching host/port").
            problems.append(f"{where}: controlPlaneEndpoint must stay empty for an externally managed control plane")
        return problems
    if kind == "Cluster":
        return _ref_violations(f"{where} controlPlaneRef", spec.get("controlPlaneRef")) + _ref_violations(
            f"{where} infrastructureRef", spec.get("infrastructureRef")
        )
    if kind == "KubeadmConfigTemplate":
        args = (
            spec.get("template", {})
            .get("spec", {})
            .get("joinConfiguration", {})
            .get("nodeRegistration", {})
            .get("kubeletExtraArgs", [])
        )
        names = [a.get("name") for a in args]
        return [f"{where}: duplicate kubeletExtraArgs {names}"] if len(names) != len(set(names)) else []
    if kind == "MachineDeployment":
        return _machine_deployment_violations(where, obj)
    if kind == "MachineHealthCheck":
        return _health_check_violations(where, spec)
    return []


def _machine_deployment_violations(where: str, obj: dict) -> list[str]:
    spec = obj["spec"]
    template = spec.get("template", {})
    problems = _ref_violations(f"{where} infrastructureRef", template.get("spec", {}).get("infrastructureRef"))
    problems += _ref_violations(
        f"{where} bootstrap.configRef", template.get("spec", {}).get("bootstrap", {}).get("configRef")
    )
    labels = template.get("metadata", {}).get("labels", {})
    for key, value in spec.get("selector", {}).get("matchLabels", {}).items():
        if labels.get(key) != value:  # CAPI webhook: the selector must match the template labels
            problems.append(f"{where}: selector label {key}={value} missing from the machine template labels")
    annotations = obj["metadata"].get("annotations", {})
    low = annotations.get("cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size")
    high = annotations.get("cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size")
    if low is not None and high is not None and not int(low) <= spec.get("replicas", 0) <= int(high):
        problems.append(f"{where}: replicas outside the autoscaler min/max")
    return problems


def _health_check_violations(where: str, spec: dict) -> list[str]:
    # No MachineHealthCheck CRD in the shared snapshot: check the v1beta2 shape (api/core/v1beta2) by hand.
    allowed = {"clusterName", "selector", "checks", "remediation"}
    problems = [f"{where}: unknown field spec.{k}" for k in spec if k not in allowed]
    if not spec.get("clusterName") or not spec.get("selector", {}).get("matchLabels"):
        problems.append(f"{where}: clusterName and selector.matchLabels are required")
    checks = spec.get("checks", {})
    problems += [
        f"{where}: unknown field spec.checks.{k}"
        for k in checks
        if k not in {"nodeStartupTimeoutSeconds", "unhealthyNodeConditions", "unhealthyMachineConditions"}
    ]
    for cond in checks.get("unhealthyNodeConditions", []):
        if set(cond) != {"type", "status", "timeoutSeconds"} or cond["status"] not in (
            "True",
            "False",
            "Unknown",
        ):
            problems.append(f"{where}: bad unhealthyNodeCondition {cond}")
    return problems


def assert_valid(objects: Iterable[dict]) -> None:
    problems = [p for obj in objects for p in cel_violations(obj)]
    if problems:
        raise SchemaViolation(problems)


class CrdSchemas:
    """openAPIV3Schema per (apiVersion, kind), loaded from a directory of upstream CRD YAML files."""

    def __init__(self, crd_dir: Path):
        self.schemas: dict[tuple[str, str], dict] = {}
        for path in sorted(Path(crd_dir).rglob("*.yaml")):
            if path.stat().st_size > MAX_CRD_BYTES:
                continue
            try:
                docs = list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
            except yaml.YAMLError:
                continue  # clusterctl templates with ${VARS} are not CRDs
            for doc in docs:
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
                for version in doc["spec"]["versions"]:
                    schema = version.get("schema", {}).get("openAPIV3Schema")
                    # Prefer the top-level file over the pinned-version subfolder (rglob sorts parents first).
                    if schema and (f"{group}/{version['name']}", kind) not in self.schemas:
                        self.schemas[(f"{group}/{version['name']}", kind)] = schema

    def schema_for(self, obj: dict) -> dict | None:
        return self.schemas.get((obj.get("apiVersion", ""), obj.get("kind", "")))

    def validate(self, obj: dict) -> list[str]:

        schema = self.schema_for(obj)
        if schema is None:
            return [f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}"]
        validator = _go_regex_validator()(schema)
        problems = [
            f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)
        ]
        return problems + [f"{p}: field unknown to the CRD (would be pruned)" for p in pruned_fields(schema, obj)]


def _go_pattern(pattern: str) -> str:
    """RE2 accepts inline flags mid-pattern ("^(?i)[a-z]"), Python only at the start: hoist them."""
    flags = "".join(re.findall(r"\(\?([a-z]+)\)", pattern))
    return (f"(?{flags})" if flags else "") + re.sub(r"\(\?[a-z]+\)", "", pattern)


def _go_regex_validator():
    import jsonschema

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not re.search(_go_pattern(patrn), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})


def pruned_fields(schema: dict, value, path: str = "") -> list[str]:
    """Paths in `value` that a structural schema does not declare (the API server drops them silently)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            child = f"{path}.{key}" if path else key
            if path == "" and key in ("apiVersion", "kind", "metadata", "status"):
                continue
            if props is not None and key in props:
                found += pruned_fields(props[key], sub, child)
            elif isinstance(extra, dict):
                found += pruned_fields(extra, sub, child)
            elif props is not None or extra is False:
                found.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += pruned_fields(schema["items"], item, f"{path}[{index}]")
    return found
