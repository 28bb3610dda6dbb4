"""Rendering: shapes, determinism, hash-named templates, labels, snapshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from provisioning.capi import render
from provisioning.capi.spec import CloneSource, SpecError

from .conftest import SHAPES, make_group, make_spec, replace

SNAPSHOTS = Path(__file__).parent / "snapshots"


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def one(objects, kind):
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_snapshot(shape):
    """Byte-for-byte snapshots (regenerate with UPDATE_SNAPSHOTS=1 after reviewing the diff)."""
    text = render.render_manifests_yaml(SHAPES[shape]())
    path = SNAPSHOTS / f"{shape}.yaml"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"missing snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_rendering_is_deterministic(shape):
    first = render.render_manifests_yaml(SHAPES[shape]())
    second = render.render_manifests_yaml(SHAPES[shape]())
    assert first == second
    # Order of node groups / allowed nodes in the input does not change the output either.
    spec = SHAPES[shape]()
    shuffled = replace(spec, node_groups=tuple(reversed(spec.node_groups)), allowed_nodes=spec.allowed_nodes[::-1])
    assert render.render_manifests_yaml(shuffled) == first


def test_yaml_round_trips_without_aliases():
    spec = SHAPES["three-groups"]()
    text = render.render_manifests_yaml(spec)
    assert "&id" not in text and "*id" not in text
    docs = list(yaml.safe_load_all(text))
    assert docs == render.render_cluster(spec)


def test_kinds_and_order_for_three_groups():
    objects = render.render_cluster(SHAPES["three-groups"]())
    kinds = [o["kind"] for o in objects]
    assert kinds[:3] == ["ProxmoxCluster", "KamajiControlPlane", "Cluster"]
    per_group = ["ProxmoxMachineTemplate", "KubeadmConfigTemplate", "MachineDeployment", "MachineHealthCheck"]
    assert kinds[3:] == per_group * 3
    names = [o["metadata"]["name"] for o in by_kind(objects, "MachineDeployment")]
    assert names == ["demo-big", "demo-ingress", "demo-md0"]


def test_cluster_references_and_networks():
    objects = render.render_cluster(make_spec(pod_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12"))
    cluster = one(objects, "Cluster")
    assert cluster["apiVersion"] == "cluster.x-k8s.io/v1beta2"
    assert cluster["spec"]["clusterNetwork"] == {
        "pods": {"cidrBlocks": ["10.244.0.0/16"]},
        "services": {"cidrBlocks": ["10.96.0.0/12"]},
    }
    assert cluster["spec"]["controlPlaneRef"] == {
        "apiGroup": "controlplane.cluster.x-k8s.io",
        "kind": "KamajiControlPlane",
        "name": "demo",
    }
    assert cluster["spec"]["infrastructureRef"] == {
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "kind": "ProxmoxCluster",
        "name": "demo",
    }


def test_kamaji_control_plane():
    kcp = one(
        render.render_cluster(make_spec(datastore_name="etcd-ssd", service_type="ClusterIP")), "KamajiControlPlane"
    )
    assert kcp["apiVersion"] == "controlplane.cluster.x-k8s.io/v1alpha2"
    spec = kcp["spec"]
    assert spec["version"] == "v1.33.4"
    assert spec["replicas"] == 2
    assert spec["dataStoreName"] == "etcd-ssd"
    assert spec["network"]["serviceType"] == "ClusterIP"
    assert set(spec["addons"]) == {"coreDNS", "kubeProxy", "konnectivity"}


def test_proxmox_cluster_leaves_endpoint_to_kamaji():
    pc = one(render.render_cluster(make_spec()), "ProxmoxCluster")
    spec = pc["spec"]
    assert spec["externalManagedControlPlane"] is True
    assert "controlPlaneEndpoint" not in spec
    assert spec["ipv4Config"] == {"addresses": ["10.20.0.100-10.20.0.150"], "prefix": 24, "gateway": "10.20.0.1"}
    assert spec["dnsServers"] == ["10.20.0.1", "1.1.1.1"]
    assert spec["allowedNodes"] == ["pve1", "pve2"]
    assert spec["credentialsRef"] == {"name": "capmox-pve-credentials", "namespace": "tenant-acme"}
    # No allowed nodes -> the key is omitted (capmox then uses the clone source node).
    assert "allowedNodes" not in one(render.render_cluster(SHAPES["static-ip-range"]()), "ProxmoxCluster")["spec"]


def test_machine_template_fields():
    objects = render.render_cluster(make_spec())
    pmt = one(objects, "ProxmoxMachineTemplate")
    spec = pmt["spec"]["template"]["spec"]
    assert spec["sourceNode"] == "pve1" and spec["templateID"] == 9000
    assert "templateSelector" not in spec
    assert spec["full"] is True and spec["storage"] == "local-lvm" and spec["pool"] == "portal"
    assert (spec["numSockets"], spec["numCores"], spec["memoryMiB"]) == (1, 2, 4096)
    assert spec["disks"] == {"bootVolume": {"disk": "scsi0", "sizeGb": 20}}
    assert spec["network"]["networkDevices"] == [
        {"name": "net0", "bridge": "vmbr0", "model": "virtio", "vlan": 120, "defaultIPv4": True}
    ]
    assert spec["vmIDRange"] == {"start": 100000, "end": 100099}
    assert {"proxmox-portal", "tenant-acme", "cluster-demo", "k8s-v1.33.4"} <= set(spec["tags"])
    # The created ProxmoxMachines inherit the portal labels through the template metadata.
    assert pmt["spec"]["template"]["metadata"]["labels"][render.MANAGED_BY] == render.MANAGER


def test_template_selector_uses_exact_tag_set():
    spec = SHAPES["template-selector"]()
    pmt = one(render.render_cluster(spec), "ProxmoxMachineTemplate")["spec"]["template"]["spec"]
    assert pmt["templateSelector"] == {"matchTags": ["k8s", "ubuntu-24.04"], "matchPolicy": "exact"}
    assert "sourceNode" not in pmt and "templateID" not in pmt


def test_linked_clone_drops_storage():
    group = make_group(full_clone=False, storage="")
    pmt = one(render.render_cluster(make_spec(node_groups=(group,))), "ProxmoxMachineTemplate")
    assert pmt["spec"]["template"]["spec"]["full"] is False
    assert "storage" not in pmt["spec"]["template"]["spec"]


def test_bootstrap_template_keys_and_provider_id():
    kct = one(render.render_cluster(make_spec()), "KubeadmConfigTemplate")
    spec = kct["spec"]["template"]["spec"]
    assert spec["users"] == [
        {
            "name": "ubuntu",
            "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly alice@example"],
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
        }
    ]
    args = spec["joinConfiguration"]["nodeRegistration"]["kubeletExtraArgs"]
    assert args == [{"name": "provider-id", "value": "proxmox://'{{ ds.meta_data.instance_id }}'"}]


def test_machine_deployment_refs_replicas_and_autoscaler():
    objects = render.render_cluster(make_spec())
    md = one(objects, "MachineDeployment")
    pmt, kct = one(objects, "ProxmoxMachineTemplate"), one(objects, "KubeadmConfigTemplate")
    template = md["spec"]["template"]
    assert md["spec"]["replicas"] == 2 and md["spec"]["clusterName"] == "demo"
    assert template["spec"]["version"] == "v1.33.4"
    assert template["spec"]["infrastructureRef"] == {
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "kind": "ProxmoxMachineTemplate",
        "name": pmt["metadata"]["name"],
    }
    assert template["spec"]["bootstrap"]["configRef"] == {
        "apiGroup": "bootstrap.cluster.x-k8s.io",
        "kind": "KubeadmConfigTemplate",
        "name": kct["metadata"]["name"],
    }
    annotations = md["metadata"]["annotations"]
    assert annotations[render.AUTOSCALER_MIN] == "1" and annotations[render.AUTOSCALER_MAX] == "5"
    assert template["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
    for key, value in md["spec"]["selector"]["matchLabels"].items():
        assert template["metadata"]["labels"][key] == value


def test_health_check_per_group():
    objects = render.render_cluster(SHAPES["three-groups"]())
    checks = by_kind(objects, "MachineHealthCheck")
    assert len(checks) == 3
    for mhc in checks:
        selector = mhc["spec"]["selector"]["matchLabels"]
        assert selector[render.CAPI_DEPLOYMENT_LABEL] == mhc["metadata"]["name"]
        assert mhc["spec"]["clusterName"] == "demo"
        assert {c["status"] for c in mhc["spec"]["checks"]["unhealthyNodeConditions"]} == {"Unknown", "False"}


def test_every_object_carries_portal_labels():
    for shape in SHAPES.values():
        spec = shape()
        for obj in render.render_cluster(spec):
            labels = obj["metadata"]["labels"]
            assert labels[render.LABEL_TENANT] == "acme"
            assert labels[render.LABEL_REQUEST] == "7"
            assert labels[render.LABEL_CLUSTER] == "demo"
            assert labels[render.CAPI_CLUSTER_LABEL] == "demo"
            assert labels[render.MANAGED_BY] == render.MANAGER
            assert obj["metadata"]["namespace"] == "tenant-acme"


def test_no_secret_material_in_rendering():
    text = render.render_manifests_yaml(make_spec())
    assert "kind: Secret" not in text
    assert "token" not in text.lower()


def template_names(spec):
    objects = render.render_cluster(spec)
    md = one(objects, "MachineDeployment")
    return one(objects, "ProxmoxMachineTemplate")["metadata"]["name"], md["spec"]["template"]["spec"]


def test_changed_machine_spec_renames_template_and_repoints_deployment():
    base_name, base_md = template_names(make_spec())
    bigger_name, bigger_md = template_names(make_spec(node_groups=(make_group(memory_mib=8192),)))
    assert base_name.startswith("demo-md0-") and len(base_name) == len("demo-md0-") + render.HASH_LENGTH
    assert bigger_name != base_name
    assert bigger_md["infrastructureRef"]["name"] == bigger_name


def test_scaling_keeps_template_name():
    base_name, _ = template_names(make_spec())
    scaled_name, _ = template_names(make_spec(node_groups=(make_group(replicas=4),)))
    assert scaled_name == base_name


def test_version_change_creates_new_template_and_rolls_out():
    base_name, base_md = template_names(make_spec())
    new_name, new_md = template_names(make_spec(kubernetes_version="v1.34.1"))
    assert new_name != base_name
    assert new_md["version"] == "v1.34.1" and base_md["version"] == "v1.33.4"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"node_groups": (make_group(memory_mib=4100),)}, "multiple of 8"),
        ({"node_groups": (make_group(disk_gib=4),)}, ">= 5"),
        ({"node_groups": (make_group(source=CloneSource(source_node="pve1")),)}, "template vmid"),
        (
            {"node_groups": (make_group(source=CloneSource("pve1", 9000, ("ubuntu",))),)},
            "not both",
        ),
        ({"node_groups": (make_group(full_clone=False, storage="local-lvm"),)}, "full clone"),
        ({"node_groups": (make_group(replicas=9),)}, "outside"),
        ({"node_groups": (make_group(), make_group())}, "unique"),
        ({"node_groups": ()}, "at least one node group"),
        ({"kubernetes_version": "1.33"}, "v1.33.4"),
        ({"pod_cidr": "10.95.0.0/16"}, "overlap"),
        ({"vmid_range": (50, 60)}, "vmIDRange"),
        ({"name": "Demo_1"}, "DNS label"),
        ({"name": "a" * 60}, "longer than 63"),
    ],
)
def test_invalid_specs_are_refused(changes, message):
    with pytest.raises(SpecError, match=message):
        render.render_cluster(make_spec(**changes))


def test_network_without_addresses_is_refused():
    spec = make_spec()
    bad = replace(spec, network=replace(spec.network, addresses=()))
    with pytest.raises(SpecError, match="no DHCP"):
        render.render_cluster(bad)
    with pytest.raises(SpecError, match="VLAN"):
        render.render_cluster(replace(spec, network=replace(spec.network, vlan=4095)))


def test_vmid_blocks_never_overlap_taken_ranges():
    from provisioning.capi.spec import allocate_vmid_block

    assert allocate_vmid_block(100000, 100999, [], 100) == (100000, 100099)
    assert allocate_vmid_block(100000, 100999, [(100000, 100099)], 100) == (100100, 100199)
    # A range allocated with another block size still blocks every overlapping block.
    assert allocate_vmid_block(100000, 100999, [(100050, 100249)], 100) == (100300, 100399)
    with pytest.raises(SpecError, match="no free block"):
        allocate_vmid_block(100000, 100199, [(100000, 100199)], 100)
