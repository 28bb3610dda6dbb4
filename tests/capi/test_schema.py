"""Rendered objects against the upstream CRD schemas, the CEL rules as explicit checks, capmox's examples."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from provisioning.capi import render
from provisioning.capi.schema_checks import SchemaViolation, assert_valid, cel_violations

from .conftest import SHAPES, make_spec

CAPMOX_EXAMPLES = ("cluster-template.yaml", "cluster-template-auto-image.yaml", "cluster-template-external-creds.yaml")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_object_matches_its_upstream_crd(shape, crd_schemas):
    objects = render.render_cluster(SHAPES[shape]())
    validated = 0
    for obj in objects:
        if obj["kind"] == "MachineHealthCheck":
            # The shared CRD snapshot has no MachineHealthCheck; its v1beta2 shape is checked by cel_violations.
            assert crd_schemas.schema_for(obj) is None
            assert cel_violations(obj) == []
            continue
        assert crd_schemas.schema_for(obj) is not None, f"no CRD for {obj['apiVersion']} {obj['kind']}"
        assert crd_schemas.validate(obj) == [], obj["kind"]
        validated += 1
    assert validated == len(objects) - len([o for o in objects if o["kind"] == "MachineHealthCheck"])


def test_schema_validation_catches_wrong_types_and_pruned_fields(crd_schemas):
    pmt = next(o for o in render.render_cluster(make_spec()) if o["kind"] == "ProxmoxMachineTemplate")
    broken = copy.deepcopy(pmt)
    broken["spec"]["template"]["spec"]["numCores"] = "two"
    broken["spec"]["template"]["spec"]["network"]["networkDevices"][0]["model"] = "virtoi"
    broken["spec"]["template"]["spec"]["additionalVolumes"] = [{"disk": "scsi1"}]  # does not exist upstream
    problems = crd_schemas.validate(broken)
    assert any("numCores" in p for p in problems)
    assert any("virtoi" in p for p in problems)
    assert any("additionalVolumes" in p and "pruned" in p for p in problems)


def test_go_regex_tags_pattern_is_enforced(crd_schemas):
    pmt = next(o for o in render.render_cluster(make_spec()) if o["kind"] == "ProxmoxMachineTemplate")
    broken = copy.deepcopy(pmt)
    broken["spec"]["template"]["spec"]["tags"] = ["UPPER-ok", "bad tag!"]
    problems = crd_schemas.validate(broken)
    assert len([p for p in problems if "does not match" in p]) == 1


def machine_template():
    return next(o for o in render.render_cluster(make_spec()) if o["kind"] == "ProxmoxMachineTemplate")


def mutate(path_fn):
    obj = copy.deepcopy(machine_template())
    path_fn(obj["spec"]["template"]["spec"])
    return obj


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda s: s.update(templateSelector={"matchTags": ["ubuntu"]}), "exactly one of"),
        (lambda s: (s.pop("sourceNode"), s.pop("templateID")), "exactly one of"),
        (lambda s: s.pop("templateID"), "exactly one of"),
        (lambda s: s.update(memoryMiB=4100), "multiple of 8"),
        (lambda s: s["disks"]["bootVolume"].update(sizeGb=4), "sizeGb must be >= 5"),
        (
            lambda s: s["network"]["networkDevices"].append({"name": "net2", "bridge": "vmbr1"}),
            "consecutive",
        ),
        (lambda s: s["network"]["networkDevices"][0].update(vlan=4095), "VLAN 4095"),
        (lambda s: s["network"]["networkDevices"][0].update(vlan=0), "VLAN 0"),
        (lambda s: s.update(full=False), "storage is only allowed with a full clone"),
        (lambda s: s["network"]["networkDevices"][0].update(mtu=100), "invalid MTU"),
        (lambda s: s.update(vmIDRange={"start": 200, "end": 100}), "vmIDRange"),
    ],
)
def test_cel_rules_reject_what_upstream_rejects(mutation, expected):
    problems = cel_violations(mutate(mutation))
    assert any(expected in p for p in problems), problems
    with pytest.raises(SchemaViolation):
        assert_valid([mutate(mutation)])


def test_cel_rules_accept_consecutive_devices_and_rendered_objects():
    obj = mutate(lambda s: s["network"]["networkDevices"].append({"name": "net1", "bridge": "vmbr1", "vlan": 1}))
    assert cel_violations(obj) == []
    for shape in SHAPES.values():
        assert_valid(render.render_cluster(shape()))


def test_externally_managed_cluster_must_not_preset_the_endpoint():
    pc = next(o for o in render.render_cluster(make_spec()) if o["kind"] == "ProxmoxCluster")
    pc["spec"]["controlPlaneEndpoint"] = {"host": "10.20.0.5", "port": 6443}
    assert any("controlPlaneEndpoint" in p for p in cel_violations(pc))


def test_v1beta2_refs_need_api_group():
    cluster = next(o for o in render.render_cluster(make_spec()) if o["kind"] == "Cluster")
    cluster["spec"]["infrastructureRef"] = {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2",
        "kind": "ProxmoxCluster",
        "name": "demo",
    }
    assert any("apiGroup" in p for p in cel_violations(cluster))


def load_example(path):
    """clusterctl templates with ${VARS}: substitute placeholders so YAML can parse them."""
    text = path.read_text()
    text = re.sub(r"\$\{[A-Z0-9_]+(?::?=[^}]*)?\}", "placeholder", text)
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def ref_graph(objects):
    """(referrer kind, field, referenced kind) edges, ignoring names."""
    edges = set()
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] == "Cluster":
            edges.add(("Cluster", "infrastructureRef", spec["infrastructureRef"]["kind"]))
            edges.add(("Cluster", "controlPlaneRef", "<control plane>"))
            assert "apiGroup" in spec["infrastructureRef"] and "apiGroup" in spec["controlPlaneRef"]
        if obj["kind"] == "MachineDeployment":
            template = spec["template"]["spec"]
            edges.add(("MachineDeployment", "infrastructureRef", template["infrastructureRef"]["kind"]))
            edges.add(("MachineDeployment", "bootstrap.configRef", template["bootstrap"]["configRef"]["kind"]))
            assert template["infrastructureRef"]["apiGroup"] == "infrastructure.cluster.x-k8s.io"
    return edges


@pytest.mark.parametrize("example", CAPMOX_EXAMPLES)
def test_rendering_matches_capmox_examples_in_spirit(example, crd_dir):
    upstream = load_example(crd_dir / "capmox" / "examples" / example)
    ours = render.render_cluster(SHAPES["template-selector" if "auto-image" in example else "one-group"]())
    upstream_kinds = {o["kind"] for o in upstream} - {"KubeadmControlPlane", "Secret"}
    our_kinds = {o["kind"] for o in ours}
    # Same kinds, with Kamaji replacing KubeadmControlPlane (+ the control-plane machine template it needed),
    # plus our MachineHealthCheck; the credentials Secret is applied separately, never rendered.
    assert upstream_kinds <= our_kinds
    assert our_kinds - upstream_kinds == {"KamajiControlPlane", "MachineHealthCheck"}
    assert ref_graph(upstream) == ref_graph(ours)
    # Same API versions for the shared kinds.
    versions = {o["kind"]: o["apiVersion"] for o in upstream}
    for obj in ours:
        if obj["kind"] in versions:
            assert obj["apiVersion"] == versions[obj["kind"]]
    # Same kubelet provider-id wiring as capmox's worker KubeadmConfigTemplate.
    up_kct = next(o for o in upstream if o["kind"] == "KubeadmConfigTemplate")
    our_kct = next(o for o in ours if o["kind"] == "KubeadmConfigTemplate")
    node_reg = "joinConfiguration", "nodeRegistration", "kubeletExtraArgs"
    up_args = up_kct["spec"]["template"]["spec"]
    our_args = our_kct["spec"]["template"]["spec"]
    for key in node_reg:
        up_args, our_args = up_args[key], our_args[key]
    assert our_args == up_args
    # Clone source style matches the example flavour.
    up_pmt = next(o for o in upstream if o["kind"] == "ProxmoxMachineTemplate")["spec"]["template"]["spec"]
    our_pmt = next(o for o in ours if o["kind"] == "ProxmoxMachineTemplate")["spec"]["template"]["spec"]
    assert ("templateSelector" in up_pmt) == ("templateSelector" in our_pmt)
    assert set(up_pmt) - {"format"} <= set(our_pmt)


def test_external_creds_example_secret_keys_match_ours(crd_dir):
    from provisioning.capi.apply import ProxmoxCredentials

    upstream = load_example(crd_dir / "capmox" / "examples" / "cluster-template-external-creds.yaml")
    secret = next(o for o in upstream if o["kind"] == "Secret")
    ours = ProxmoxCredentials("https://pve:8006/api2/json", "root@pam!capmox", "s3cr3t").secret_data()
    assert set(secret["stringData"]) <= set(ours)
    assert ours["url"] == "https://pve:8006"
    assert ours["insecure"] == "false"  # always explicit: an absent key means "TLS off" in capmox
