"""Every shared KubeVirt sample converts; capmox output validates; exact facts survive per sample."""

from __future__ import annotations

import base64
from urllib.parse import unquote

import pytest

from migration.core import InputError, Mappings, convert, load_documents

from .conftest import BROKEN_SAMPLES, SAMPLES, require_shared, sample_files

NETWORK_MAP = {
    "pod": {"bridge": "vmbr0"},
    "networks": {
        "tenant-demo/subnet-84dbec17": {"bridge": "vmbr1", "vlan": 100},
        "tenant-demo/subnet-aa8896b5": {"bridge": "vmbr2", "vlan": 200},
        "default/vm-untag": {"bridge": "vmbr3"},
        "default/net1": {"bridge": "vmbr4", "vlan": 42},
    },
}


def _convert(name: str, mappings: Mappings | None = None):
    path = require_shared(SAMPLES / name)
    return convert(load_documents(path.read_text(), source=name), mappings)


def _nic_models(config: dict) -> list[str]:
    nets = sorted((k for k in config if k.startswith("net")), key=lambda k: int(k[3:]))
    return [config[k].split(",")[0].split("=")[0] for k in nets]


def _vlans(config: dict) -> list[int | None]:
    nets = sorted((k for k in config if k.startswith("net")), key=lambda k: int(k[3:]))
    out = []
    for key in nets:
        tags = [p for p in config[key].split(",") if p.startswith("tag=")]
        out.append(int(tags[0][4:]) if tags else None)
    return out


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_sample_converts_or_fails_precisely(path, capmox_validator):
    text = path.read_text()
    if path.name in BROKEN_SAMPLES:
        with pytest.raises(InputError) as info:
            convert(load_documents(text, source=path.name))
        assert info.value.path == "spec.template.spec.domain.devices"
        assert (
            str(info.value) == f"{path.name} document 1: spec.template.spec.domain.devices: required field is missing"
        )
        return
    result = convert(load_documents(text, source=path.name), Mappings.from_dicts(network=NETWORK_MAP))
    assert result.plans, "every valid sample describes at least one VM"
    for plan in result.plans:
        config = plan.qm_config
        assert config["sockets"] * config["cores"] == plan.summary["vcpus"]
        assert config["memory"] == plan.summary["memoryMiB"] > 0
        assert config["machine"] == "q35"
        for obj in plan.capmox:
            assert capmox_validator(obj) == []
    for cluster in result.clusters:
        for obj in cluster.objects:
            if obj["apiVersion"].startswith("infrastructure.cluster.x-k8s.io"):
                assert capmox_validator(obj) == []


def test_every_sample_in_index_is_covered(sample_index):
    names = {entry["file"] for entry in sample_index}
    assert names == {p.name for p in sample_files()}


CIRROS_USER_DATA = "#!/bin/sh\n\necho 'printed from cloud-init userdata'\n"

# file -> facts read by hand from the manifests (not from the converter)
FACTS = {
    "kubevirt-examples_vm-cirros.yaml": {
        "vcpus": 1,
        "topology": (1, 1),
        "memory": 128,
        "capmox_memory": 128,
        "boot": None,
        "nics": ["virtio"],
        "user_data": CIRROS_USER_DATA,
        "onboot": 0,
    },
    "kubevirt-userguide_architecture_vm-cirros-userdatabase64.yaml": {
        "vcpus": 1,
        "topology": (1, 1),
        "memory": 62,
        "capmox_memory": 64,
        "user_data": CIRROS_USER_DATA,
    },
    "kubevirt-demo_vm-testvm-running-false.yaml": {
        "memory": 62,
        "nics": ["virtio"],
        "user_data": "Hi.\\n",
        "onboot": 0,
    },
    "harvester-notes_vm-list-masquerade-exported.yaml": {
        "vcpus": 2,
        "topology": (1, 2),
        "memory": 3996,
        "capmox_memory": 4000,
        "balloon": 2730,
        "boot": ("virtio0", 10),
        "nics": ["virtio"],
        "macs": ["52:54:00:B6:DF:DA"],
        "onboot": 1,
    },
    "harvester-notes_vm-guest-cluster-node-managedfields.yaml": {
        "vcpus": 2,
        "topology": (1, 2),
        "memory": 4096,
        "capmox_memory": 4096,
        "balloon": 2730,
        "boot": ("virtio0", 40),
        "nics": ["virtio"],
        "macs": ["6E:22:0B:5D:E6:A7"],
        "bridges": ["vmbr3"],
        "onboot": 1,
    },
    "cozystack_virtual-machine_alpine-dv-http-networkdata.yaml": {
        "vcpus": 1,
        "topology": (1, 1),
        "memory": 4096,
        "capmox_memory": 4096,
        "boot": ("scsi0", 5),
        "nics": ["virtio", "virtio", "virtio"],
        "vlans": [None, 100, 200],
        "bridges": ["vmbr0", "vmbr1", "vmbr2"],
        "ssh": ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCexample user@example"],
        "user_data": "#cloud-config\nssh_authorized_keys:\n"
        '  - "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCexample user@example"\n',
        "onboot": 1,
    },
    "cozystack_vm-instance_ubuntu-instancetype-gpu-multus.yaml": {
        "vcpus": 2,
        "topology": (2, 1),
        "memory": 8192,
        "capmox_memory": 8192,
        "boot": ("virtio0", None),
        "nics": ["virtio", "virtio"],
        "vlans": [None, 100],
        "ssh": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZp2yw2ZqZ8Zz9Q2l5Qexample user@example"],
        "user_data": "#cloud-config\npassword: ubuntu\nchpasswd: { expire: False }\n",
        "onboot": 1,
    },
    "common-templates_windows2k22-server-medium.yaml": {
        "vcpus": 1,
        "topology": (1, 1),
        "memory": 4096,
        "capmox_memory": 4096,
        "boot": ("sata0", 60),
        "nics": ["e1000e"],
        "capmox_nics": ["e1000"],
        "secure_boot": True,
        "tpm": True,
        "onboot": 0,
    },
    "common-templates_fedora-server-small.yaml": {
        "vcpus": 1,
        "memory": 2048,
        "boot": ("virtio0", 30),
        "secure_boot": True,
        "user_data": "#cloud-config\nuser: fedora\npassword: ${CLOUD_USER_PASSWORD}\nchpasswd: { expire: False }",
        "ciuser": "fedora",
    },
    "wangjun-tips_vm-rhel8-bridge-masquerade-efi.yaml": {
        "vcpus": 1,
        "memory": 2048,
        "boot": ("virtio0", 30),
        "nics": ["virtio", "virtio"],
        "vlans": [42, None],
        "macs": ["02:D4:C6:00:00:1A", "02:D4:C6:00:00:1B"],
        "secure_boot": True,
        "ciuser": "cloud-user",
        "onboot": 0,
    },
    "kubevirt-examples_vmi-fedora-isolated.yaml": {"vcpus": 1, "memory": 977, "capmox_memory": 984},
    "kubevirt-userguide_numa_vmi-hugepages-2mi-dedicated.yaml": {
        "vcpus": 4,
        "topology": (1, 4),
        "memory": 64,
        "capmox_memory": 64,
    },
    "kubevirt-userguide_disks-and-volumes_vm-virtiofs-pvc.yaml": {"vcpus": 1, "memory": 1024},
    "kubevirt-examples_vm-cirros-sata.yaml": {"memory": 128, "boot": ("sata0", None), "user_data": CIRROS_USER_DATA},
    "cdi_vm-dv-http-running-false.yaml": {"memory": 62, "capmox_memory": 64, "boot": ("virtio0", 1), "onboot": 0},
    "kubevirt-userguide_volume-migration_dv-blank-and-vm.yaml": {"memory": 128, "boot": ("virtio0", 2), "onboot": 1},
    "kubevirt-examples_vm-alpine-datavolume.yaml": {"memory": 128, "boot": ("virtio0", 2)},
    "kubevirt-examples_vmi-secureboot.yaml": {"memory": 1024, "secure_boot": True},
    "kubevirt-examples_vmi-alpine-efi.yaml": {"memory": 1024, "secure_boot": False},
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_exact_facts(name):
    facts = FACTS[name]
    result = _convert(name, Mappings.from_dicts(network=NETWORK_MAP))
    plan = result.plans[0]
    config = plan.qm_config
    pmt = plan.capmox[0]["spec"]["template"]["spec"]
    if "vcpus" in facts:
        assert config["sockets"] * config["cores"] == facts["vcpus"]
        assert pmt["numSockets"] * pmt["numCores"] == facts["vcpus"]
    if "topology" in facts:
        assert (config["sockets"], config["cores"]) == facts["topology"]
    assert config["memory"] == facts["memory"]
    if "capmox_memory" in facts:
        assert pmt["memoryMiB"] == facts["capmox_memory"]
    if "balloon" in facts:
        assert config["balloon"] == facts["balloon"]
    if "boot" in facts:
        boot = next((d for d in plan.disks if d.boot), None)
        if facts["boot"] is None:
            assert boot is None or boot.source_type == "containerDisk"
        else:
            slot, size = facts["boot"]
            assert boot.slot == slot and boot.size_gib == size
            assert config["boot"].startswith(f"order={slot}")
            assert pmt["disks"]["bootVolume"] == {"disk": slot, "sizeGb": max(5, size or 5)}
    if "nics" in facts:
        assert _nic_models(config) == facts["nics"]
        capmox_models = [d["model"] for d in pmt["network"]["networkDevices"]]
        assert capmox_models == facts.get("capmox_nics", facts["nics"])
    if "vlans" in facts:
        assert _vlans(config) == facts["vlans"]
        assert [d.get("vlan") for d in pmt["network"]["networkDevices"]] == facts["vlans"]
    if "bridges" in facts:
        assert [d["bridge"] for d in pmt["network"]["networkDevices"]] == facts["bridges"]
    if "macs" in facts:
        assert [config[f"net{i}"].split(",")[0].split("=")[1] for i in range(len(facts["macs"]))] == facts["macs"]
    if "ssh" in facts:
        assert unquote(config["sshkeys"]).split("\n") == facts["ssh"]
    if "user_data" in facts:
        assert plan.cloud_init["userData"] == facts["user_data"]
    if "ciuser" in facts:
        assert config["ciuser"] == facts["ciuser"]
    if "onboot" in facts:
        assert config["onboot"] == facts["onboot"]
    if "secure_boot" in facts:
        assert config["bios"] == "ovmf"
        assert config["efidisk0"].endswith(f"pre-enrolled-keys={int(facts['secure_boot'])}")
    if facts.get("tpm"):
        assert config["tpmstate0"].endswith("version=v2.0")


def test_base64_fact_is_decoded_not_copied():
    raw = "IyEvYmluL3NoCgplY2hvICdwcmludGVkIGZyb20gY2xvdWQtaW5pdCB1c2VyZGF0YScK"
    assert base64.b64decode(raw).decode() == CIRROS_USER_DATA


def test_pool_gives_one_plan_per_replica():
    result = _convert("kubevirt-examples_vm-pool-cirros.yaml")
    assert [p.name for p in result.plans] == ["vm-pool-cirros-0", "vm-pool-cirros-1", "vm-pool-cirros-2"]
    assert {p.qm_config["onboot"] for p in result.plans} == {1}


def test_capk_cluster_rewrite(capmox_validator):
    result = _convert("capk_cluster-template.yaml")
    assert [p.source["kind"] for p in result.plans] == ["KubevirtMachineTemplate", "KubevirtMachineTemplate"]
    (cluster,) = result.clusters
    kinds = [o["kind"] for o in cluster.objects]
    assert kinds == [
        "Cluster",
        "ProxmoxCluster",
        "ProxmoxMachineTemplate",
        "KubeadmControlPlane",
        "ProxmoxMachineTemplate",
        "KubeadmConfigTemplate",
        "MachineDeployment",
    ]
    by_kind = {o["kind"]: o for o in cluster.objects}
    infra = {"apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2"}
    assert by_kind["Cluster"]["spec"]["infrastructureRef"] | infra == by_kind["Cluster"]["spec"]["infrastructureRef"]
    assert by_kind["Cluster"]["spec"]["infrastructureRef"]["kind"] == "ProxmoxCluster"
    kcp_ref = by_kind["KubeadmControlPlane"]["spec"]["machineTemplate"]["infrastructureRef"]
    assert kcp_ref["kind"] == "ProxmoxMachineTemplate" and kcp_ref["name"] == "${CLUSTER_NAME}-control-plane"
    md_ref = by_kind["MachineDeployment"]["spec"]["template"]["spec"]["infrastructureRef"]
    assert md_ref == {
        "name": "${CLUSTER_NAME}-md-0",
        "namespace": "${NAMESPACE}",
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2",
        "kind": "ProxmoxMachineTemplate",
    }
    # untouched fields are kept verbatim
    assert by_kind["KubeadmControlPlane"]["spec"]["version"] == "${KUBERNETES_VERSION}"
    assert by_kind["Cluster"]["spec"]["controlPlaneRef"]["kind"] == "KubeadmControlPlane"
    for obj in cluster.objects:
        if obj["kind"].startswith("Proxmox"):
            assert capmox_validator(obj) == []
    pmt = by_kind["ProxmoxMachineTemplate"]["spec"]["template"]["spec"]
    assert (pmt["numSockets"], pmt["numCores"], pmt["memoryMiB"]) == (1, 2, 4096)
    assert pmt["network"]["networkDevices"][0]["queues"] == 2
    assert any(c.id == "cluster-ipam" and c.category == "Critical" for c in cluster.concerns)


def test_capk_cluster_with_ipam_mapping_has_no_placeholder(capmox_validator):
    cluster_map = {
        "cluster": {
            "ipv4Config": {"addresses": ["10.0.0.10-10.0.0.50"], "prefix": 24, "gateway": "10.0.0.1"},
            "dnsServers": ["10.0.0.1"],
        }
    }
    result = _convert("capk_cluster-template.yaml", Mappings.from_dicts(network=cluster_map))
    (cluster,) = result.clusters
    proxmox_cluster = next(o for o in cluster.objects if o["kind"] == "ProxmoxCluster")
    assert proxmox_cluster["spec"]["ipv4Config"]["gateway"] == "10.0.0.1"
    assert capmox_validator(proxmox_cluster) == []
    assert not any(c.id == "cluster-ipam" for c in cluster.concerns)
