"""Fixtures for the KubeVirt -> Proxmox converter tests: shared samples and capmox CRD validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "samples" / "kubevirt"
CRDS = SHARED / "crds" / "capmox"
SCHEMAS = SHARED / "schemas" / "kubevirt"
BROKEN_SAMPLES = {"kubevirt-userguide_persistent-state_vm-efi-persistent.yaml"}


def require_shared(path: Path = SHARED) -> Path:
    if not path.exists():
        pytest.skip(f"../shared not found: {path}")
    return path


def sample_files() -> list[Path]:
    if not SAMPLES.exists():
        return []
    return sorted(SAMPLES.glob("*.yaml"))


@pytest.fixture(scope="session")
def sample_index() -> list[dict]:
    require_shared(SAMPLES)
    return json.loads((SAMPLES / "_index.json").read_text())


def _python_patterns(node: object) -> object:
    """Go regexps allow ``^(?i)``; Python wants inline flags first."""
    if isinstance(node, dict):
        out = {k: _python_patterns(v) for k, v in node.items()}
        if isinstance(out.get("pattern"), str) and out["pattern"].startswith("^(?i)"):
            out["pattern"] = "(?i)^" + out["pattern"][5:]
        return out
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    return node


def _crd_schema(kind_plural: str) -> dict:
    crd = yaml.safe_load((CRDS / f"infrastructure.cluster.x-k8s.io_{kind_plural}.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2")
    return _python_patterns(version["schema"]["openAPIV3Schema"])


_TAG = re.compile(r"(?i)^[a-z0-9_][a-z0-9_\-\+\.]*$")


def _machine_cel(spec: dict) -> list[str]:
    """The CEL rules of ProxmoxMachineTemplate v1alpha2 (plus webhook rules) as explicit checks."""
    errors = []
    if not spec.get("full", True) and "format" in spec:
        errors.append("self.full || !has(self.format)")
    if not spec.get("full", True) and "storage" in spec:
        errors.append("self.full || !has(self.storage)")
    if not ("templateSelector" in spec or ("templateID" in spec and "sourceNode" in spec)):
        errors.append("has(self.templateSelector) || (has(self.templateID) && has(self.sourceNode))")
    for tag in (spec.get("templateSelector") or {}).get("matchTags", []):
        if not _TAG.match(tag):
            errors.append(f"matchTags pattern: {tag}")
    devices = spec["network"]["networkDevices"]
    for i, device in enumerate(devices):
        if device.get("name") != f"net{i}":
            errors.append(f"network devices must be consecutive: {device.get('name')} at {i}")
        for key in ("mtu", "linkMtu"):
            if key in device and not (device[key] == 1 or 576 <= device[key] <= 65520):
                errors.append(f"{key} rule")
        for ref in device.get("ipPoolRef") or []:
            if ref.get("apiGroup") != "ipam.cluster.x-k8s.io":
                errors.append("ipPoolRef apiGroup")
            if ref.get("kind") not in ("InClusterIPPool", "GlobalInClusterIPPool"):
                errors.append("ipPoolRef kind")
    vmid = spec.get("vmIDRange")
    if vmid and not vmid["end"] >= vmid["start"]:
        errors.append("self.end >= self.start")
    return errors


def _cluster_cel(spec: dict) -> list[str]:
    errors = []
    if spec.get("ipv4Config") is None and spec.get("ipv6Config") is None:
        errors.append("self.ipv4Config != null || self.ipv6Config != null")
    for key in ("ipv4Config", "ipv6Config"):
        if key in spec and not spec[key]["addresses"]:
            errors.append(f"{key}.addresses.size() > 0")
    endpoint = spec.get("controlPlaneEndpoint")
    if endpoint is not None and not 0 < endpoint.get("port", 0) < 65536:
        errors.append("self.port > 0 && self.port < 65536")
    return errors


@pytest.fixture(scope="session")
def capmox_validator():
    """Returns check(obj) -> list of errors (empty when valid) for ProxmoxMachineTemplate/ProxmoxCluster."""
    require_shared(CRDS)
    schemas = {
        "ProxmoxMachineTemplate": _crd_schema("proxmoxmachinetemplates"),
        "ProxmoxCluster": _crd_schema("proxmoxclusters"),
    }

    def check(obj: dict) -> list[str]:
        assert obj["apiVersion"] == "infrastructure.cluster.x-k8s.io/v1alpha2"
        schema = schemas[obj["kind"]]
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(obj)
        ]
        if obj["kind"] == "ProxmoxMachineTemplate":
            errors += _machine_cel(obj["spec"]["template"]["spec"])
        else:
            errors += _cluster_cel(obj["spec"])
        return errors

    return check
