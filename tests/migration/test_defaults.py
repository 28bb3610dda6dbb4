"""KubeVirt's implicit defaults are applied before mapping."""

from __future__ import annotations

from migration.core import convert

from .vmfactory import baseline, mappings, render, vmi_spec


def _config(vm: dict) -> dict:
    return convert(render(vm), mappings()).plans[0].qm_config


def test_volume_without_disk_gets_a_sata_disk_on_amd64_and_virtio_on_arm64():
    vm = baseline()
    vmi_spec(vm)["domain"]["devices"].pop("disks")
    assert "sata0" in _config(vm) and "virtio0" not in _config(vm)
    vmi_spec(vm)["architecture"] = "arm64"
    assert "virtio0" in _config(vm)


def test_vcpus_from_limits_then_requests_rounded_up():
    vm = baseline()
    domain = vmi_spec(vm)["domain"]
    domain.pop("cpu")
    domain["resources"] = {"requests": {"cpu": "500m"}, "limits": {"cpu": "2500m"}}
    config = _config(vm)
    assert (config["sockets"], config["cores"]) == (3, 1)
    domain["resources"] = {"requests": {"cpu": "1500m"}}
    assert _config(vm)["sockets"] == 2


def test_guest_memory_from_requests_and_balloon_from_overcommit():
    vm = baseline()
    domain = vmi_spec(vm)["domain"]
    domain.pop("memory")
    domain["resources"] = {"requests": {"memory": "1G"}}
    config = _config(vm)
    assert (config["memory"], config["balloon"]) == (954, 954)
    domain["memory"] = {"guest": "4Gi"}
    domain["resources"] = {"requests": {"memory": "3Gi"}}
    config = _config(vm)
    assert (config["memory"], config["balloon"]) == (4096, 3072)
    domain["devices"]["autoattachMemBalloon"] = False
    assert _config(vm)["balloon"] == 0


def test_nic_model_defaults_to_virtio_and_pod_network_is_auto_attached():
    vm = baseline()
    vmi_spec(vm)["domain"]["devices"]["interfaces"][0].pop("model")
    assert _config(vm)["net0"].startswith("virtio,")
    vmi_spec(vm)["domain"]["devices"].pop("interfaces")
    vmi_spec(vm).pop("networks")
    plan = convert(render(vm), mappings()).plans[0]
    assert plan.qm_config["net0"] == "virtio,bridge=vmbr0"
    assert any(c.id == "pod-network" and "auto-attached" in c.assessment for c in plan.concerns)
    vmi_spec(vm)["domain"]["devices"]["autoattachPodInterface"] = False
    assert not any(k.startswith("net") for k in _config(vm))


def test_empty_efi_means_secure_boot_on_amd64():
    vm = baseline()
    vmi_spec(vm)["domain"]["firmware"] = {"bootloader": {"efi": {}}}
    config = _config(vm)
    assert config["bios"] == "ovmf" and config["efidisk0"] == "local-lvm:1,efitype=4m,pre-enrolled-keys=1"
    vmi_spec(vm)["domain"]["firmware"]["bootloader"]["efi"] = {"secureBoot": False}
    assert _config(vm)["efidisk0"].endswith("pre-enrolled-keys=0")


def test_threads_fold_into_cores():
    vm = baseline()
    vmi_spec(vm)["domain"]["cpu"] = {"sockets": 2, "cores": 3, "threads": 2}
    config = _config(vm)
    assert (config["sockets"], config["cores"]) == (2, 6)


def test_run_strategy_maps_to_onboot():
    vm = baseline()
    for strategy, onboot in (("Always", 1), ("RerunOnFailure", 1), ("Manual", 0), ("Halted", 0), ("Once", 0)):
        vm["spec"]["runStrategy"] = strategy
        assert _config(vm)["onboot"] == onboot
    vm["spec"].pop("runStrategy")
    vm["spec"]["running"] = True
    assert _config(vm)["onboot"] == 1


def test_boot_order_from_boot_order_fields():
    vm = baseline()
    devices = vmi_spec(vm)["domain"]["devices"]
    devices["disks"].append({"name": "data", "disk": {"bus": "scsi"}, "bootOrder": 1})
    devices["disks"][0]["bootOrder"] = 2
    devices["interfaces"][0]["bootOrder"] = 3
    vmi_spec(vm)["volumes"].append({"name": "data", "emptyDisk": {"capacity": "3Gi"}})
    config = _config(vm)
    assert config["boot"] == "order=scsi0;virtio0;net0"
    assert config["scsi0"] == "local-lvm:3,size=3G"
