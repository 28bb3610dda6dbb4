"""One test per concern rule: a minimal VM that triggers it, and the clean baseline that does not."""

from __future__ import annotations

import pytest

from migration.core import RULES, convert
from migration.core.rules import RULES_VERSION

from .vmfactory import baseline, mappings, render, vmi_spec


def _concerns(*docs: dict, maps=None):
    result = convert(render(*docs), maps or mappings())
    if result.clusters:
        return [c for cluster in result.clusters for c in cluster.concerns] + [
            c for p in result.plans for c in p.concerns
        ]
    return result.plans[0].concerns


def _ids(*docs: dict, maps=None) -> set[str]:
    return {c.id for c in _concerns(*docs, maps=maps)}


def test_baseline_is_clean():
    concerns = _concerns(baseline())
    assert [c.id for c in concerns] == ["capmox-standalone"]


def test_every_rule_has_a_case_and_categories_are_valid():
    assert {r.id for r in RULES} == set(CASES) | {"cluster-ipam", "capi-contract"}
    assert RULES_VERSION
    assert len({r.id for r in RULES}) == len(RULES)


def _devices(vm: dict) -> dict:
    return vmi_spec(vm)["domain"]["devices"]


def case_gpu(vm):
    _devices(vm)["gpus"] = [{"name": "g", "deviceName": "nvidia.com/A10"}]
    return "spec.template.spec.domain.devices.gpus[0]"


def case_host_devices(vm):
    _devices(vm)["hostDevices"] = [{"name": "n", "deviceName": "devices.kubevirt.io/nvme"}]
    return "spec.template.spec.domain.devices.hostDevices[0]"


def case_sriov(vm):
    _devices(vm)["interfaces"][0] = {"name": "lan", "sriov": {}}
    return "spec.template.spec.domain.devices.interfaces[0]"


def case_dedicated_cpu(vm):
    vmi_spec(vm)["domain"]["cpu"]["dedicatedCpuPlacement"] = True
    return "spec.template.spec.domain.cpu"


def case_numa(vm):
    vmi_spec(vm)["domain"]["cpu"]["numa"] = {"guestMappingPassthrough": {}}
    return "spec.template.spec.domain.cpu.numa"


def case_hugepages(vm):
    vmi_spec(vm)["domain"]["memory"]["hugepages"] = {"pageSize": "1Gi"}
    return "spec.template.spec.domain.memory.hugepages"


def case_realtime(vm):
    vmi_spec(vm)["domain"]["cpu"]["realtime"] = {}
    return "spec.template.spec.domain.cpu.realtime"


def case_pinned_mac(vm):
    _devices(vm)["interfaces"][0]["macAddress"] = "02:00:00:00:00:01"
    return "spec.template.spec.domain.devices.interfaces[0]"


def case_pod_network(vm):
    vmi_spec(vm)["networks"] = [{"name": "lan", "pod": {}}]
    return "spec.template.spec.domain.devices.interfaces[0]"


def case_multus_unmapped(vm):
    vmi_spec(vm)["networks"][0]["multus"]["networkName"] = "shop/other"
    return "spec.template.spec.domain.devices.interfaces[0]"


def case_nic_model_capmox(vm):
    _devices(vm)["interfaces"][0]["model"] = "e1000e"
    return "spec.template.spec.domain.devices.interfaces[0]"


def case_cloudinit_nic_names(vm):
    _devices(vm)["disks"].append({"name": "ci", "disk": {"bus": "virtio"}})
    vmi_spec(vm)["volumes"].append(
        {"name": "ci", "cloudInitNoCloud": {"networkData": "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"}}
    )
    return "spec.template.spec.volumes[1]"


def case_missing_secret(vm):
    vmi_spec(vm)["accessCredentials"] = [
        {"sshPublicKey": {"source": {"secret": {"secretName": "keys"}}, "propagationMethod": {"noCloud": {}}}}
    ]
    return "spec.template.spec.accessCredentials[0].sshPublicKey.source.secret"


def case_guest_agent_credentials(vm):
    vmi_spec(vm)["accessCredentials"] = [
        {"userPassword": {"source": {"secret": {"secretName": "pw"}}, "propagationMethod": {"qemuGuestAgent": {}}}}
    ]
    return "spec.template.spec.accessCredentials[0].userPassword"


def case_ephemeral_root(vm):
    vmi_spec(vm)["volumes"][0] = {"name": "root", "containerDisk": {"image": "quay.io/x/y:1"}}
    return "spec.template.spec.volumes[0]"


def case_template_unmapped(vm):
    vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["http"]["url"] = "https://images.example/other.qcow2"
    return "spec.template.spec.volumes[0]"


def case_extra_disks(vm):
    _devices(vm)["disks"].append({"name": "data", "disk": {"bus": "virtio"}})
    vmi_spec(vm)["volumes"].append({"name": "data", "emptyDisk": {"capacity": "1Gi"}})
    return "spec.template.spec.domain.devices.disks[1]"


def case_disk_size_unknown(vm):
    vm["spec"].pop("dataVolumeTemplates")
    return "spec.template.spec.volumes[0]"


def case_storage_unmapped(vm):
    vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]["storageClassName"] = "slow"
    return "spec.template.spec.volumes[0]"


def case_unsupported_volume(vm):
    _devices(vm)["disks"].append({"name": "cfg", "disk": {}})
    vmi_spec(vm)["volumes"].append({"name": "cfg", "configMap": {"name": "app-config"}})
    return "spec.template.spec.volumes[1]"


def case_virtiofs(vm):
    _devices(vm)["filesystems"] = [{"name": "share", "virtiofs": {}}]
    vmi_spec(vm)["volumes"].append({"name": "share", "persistentVolumeClaim": {"claimName": "share"}})
    return "spec.template.spec.domain.devices.filesystems[0]"


def case_efi_tpm_state(vm):
    vmi_spec(vm)["domain"]["devices"]["tpm"] = {"persistent": True}
    return "spec.template.spec.domain.devices.tpm"


def case_secure_boot(vm):
    vmi_spec(vm)["domain"]["firmware"] = {"bootloader": {"efi": {}}}
    return "spec.template.spec.domain.firmware.bootloader"


def case_machine_type(vm):
    vmi_spec(vm)["domain"]["machine"] = {"type": "pc-q35-rhel9.2.0"}
    return "spec.template.spec.domain.machine.type"


def case_windows(vm):
    _devices(vm)["disks"].append({"name": "unattend", "cdrom": {"bus": "sata"}})
    vmi_spec(vm)["volumes"].append({"name": "unattend", "sysprep": {"configMap": {"name": "unattend"}}})
    return "spec.template.spec.volumes[1]"


def case_live_migration(vm):
    vmi_spec(vm)["evictionStrategy"] = "LiveMigrate"
    return "spec.template.spec.evictionStrategy"


def case_placement(vm):
    vmi_spec(vm)["nodeSelector"] = {"kubernetes.io/hostname": "node1"}
    return "spec.template.spec.nodeSelector"


def case_hook_sidecar(vm):
    vm["spec"]["template"]["metadata"] = {"annotations": {"hooks.kubevirt.io/hookSidecars": "[]"}}
    return "metadata.annotations"


def case_watchdog(vm):
    _devices(vm)["watchdog"] = {"name": "w", "i6300esb": {"action": "poweroff"}}
    return "spec.template.spec.domain.devices.watchdog"


def case_pool_replicas(vm):
    vm.clear()
    pool = {
        "apiVersion": "pool.kubevirt.io/v1beta1",
        "kind": "VirtualMachinePool",
        "metadata": {"name": "pool", "namespace": "shop"},
        "spec": {"replicas": 1, "selector": {}, "virtualMachineTemplate": {"spec": baseline()["spec"]}},
    }
    vm.update(pool)
    return "spec.replicas"


def case_capmox_standalone(vm):
    return ""


def case_architecture(vm):
    vmi_spec(vm)["architecture"] = "arm64"
    return "spec.template.spec.architecture"


def case_unresolved_definition(vm):
    vm["spec"]["instancetype"] = {"name": "no-such-type"}
    vmi_spec(vm)["domain"].pop("cpu")
    vmi_spec(vm)["domain"].pop("memory")
    return "spec.instancetype"


def case_broken_reference(vm):
    _devices(vm)["disks"].append({"name": "ghost", "disk": {}})
    return "spec.template.spec.domain.devices.disks[1]"


CASES = {
    "gpu-passthrough": case_gpu,
    "host-device-passthrough": case_host_devices,
    "sriov": case_sriov,
    "dedicated-cpu": case_dedicated_cpu,
    "numa": case_numa,
    "hugepages": case_hugepages,
    "realtime": case_realtime,
    "pinned-mac": case_pinned_mac,
    "pod-network": case_pod_network,
    "multus-unmapped": case_multus_unmapped,
    "nic-model-capmox": case_nic_model_capmox,
    "cloudinit-nic-names": case_cloudinit_nic_names,
    "missing-secret": case_missing_secret,
    "guest-agent-credentials": case_guest_agent_credentials,
    "ephemeral-root": case_ephemeral_root,
    "template-unmapped": case_template_unmapped,
    "extra-disks": case_extra_disks,
    "disk-size-unknown": case_disk_size_unknown,
    "storage-unmapped": case_storage_unmapped,
    "unsupported-volume": case_unsupported_volume,
    "virtiofs": case_virtiofs,
    "efi-tpm-state": case_efi_tpm_state,
    "secure-boot": case_secure_boot,
    "machine-type": case_machine_type,
    "windows": case_windows,
    "live-migration": case_live_migration,
    "placement": case_placement,
    "hook-sidecar": case_hook_sidecar,
    "watchdog": case_watchdog,
    "pool-replicas": case_pool_replicas,
    "capmox-standalone": case_capmox_standalone,
    "architecture": case_architecture,
    "unresolved-definition": case_unresolved_definition,
    "broken-reference": case_broken_reference,
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule(rule_id):
    rule = next(r for r in RULES if r.id == rule_id)
    vm = baseline()
    path = CASES[rule_id](vm)
    hits = [c for c in _concerns(vm) if c.id == rule_id]
    assert hits, f"{rule_id} did not fire"
    assert all(c.category == rule.category and c.label == rule.label for c in hits)
    assert path in [c.path for c in hits]
    if rule_id != "capmox-standalone":
        assert rule_id not in _ids(baseline())


def test_cluster_worker_is_not_standalone():
    template = {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha1",
        "kind": "KubevirtMachineTemplate",
        "metadata": {"name": "md-0", "namespace": "shop"},
        "spec": {"template": {"spec": {"virtualMachineTemplate": {"spec": baseline()["spec"]}}}},
    }
    assert "capmox-standalone" not in _ids(template)
