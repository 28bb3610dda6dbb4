"""The Proxmox client layer against fakepve over verified HTTPS: auth, error classes, operations, the seed ISO."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse

import pytest

from devstack.fakepve_demo import DEMO_TOKEN_ID
from provisioning.proxmox import operations as ops
from provisioning.proxmox.cidata import build_iso, network_config, seed_files
from provisioning.proxmox.client import ProxmoxClient
from provisioning.proxmox.errors import NotFound, PermanentError, TransientError

from .conftest import requests_to


def test_token_auth_over_verified_tls(px, pve):
    assert px.get("version")["version"].startswith("9.")
    # the token, not a ticket: no login call was made
    assert not requests_to(pve, "POST", "/access/ticket")


def test_unverifiable_certificate_is_permanent(pve):
    # The fake's self-signed certificate is not in the system CA store.
    strict = ProxmoxClient(pve.url, DEMO_TOKEN_ID, "x", verify=True, timeout=5)
    with pytest.raises(PermanentError) as info:
        strict.get("version")
    assert info.value.code == "tls"


def test_wrong_secret_is_permanent_auth_error(pve, fakepve_cafile):
    bad = ProxmoxClient(pve.url, DEMO_TOKEN_ID, "wrong", verify=fakepve_cafile, timeout=5)
    with pytest.raises(PermanentError) as info:
        bad.get("nodes")
    assert info.value.code == "auth"
    assert "wrong" not in info.value.message_admin


def test_rejects_plain_http_and_bad_token_ids():
    with pytest.raises(ValueError):
        ProxmoxClient("http://127.0.0.1:8006", DEMO_TOKEN_ID, "s")
    with pytest.raises(ValueError):
        ProxmoxClient("https://127.0.0.1:8006", "root@pam", "s")


def test_validation_error_names_the_field(px):
    with pytest.raises(PermanentError) as info:
        px.put("nodes/pve1/qemu/9000/config", net0="virtio,bridge=vmbr0,tag=5000")
    assert info.value.code == "invalid"
    assert "net0" in info.value.message_user and "4094" in info.value.message_user


def test_missing_vm_is_not_found(px):
    with pytest.raises(NotFound):
        px.get("nodes/pve1/qemu/4242/config")


def test_locked_vm_is_transient(px, pve):
    pve.snapshot_lock(9000, "backup")
    with pytest.raises(TransientError) as info:
        ops.clone(
            px,
            source_node="pve1",
            template_vmid=9000,
            newid=5000,
            name="x",
            full=True,
            target="pve1",
            storage=None,
            pool=None,
            description="d",
        )
    assert info.value.code == "locked" and "backup" in info.value.message_user


def test_config_lock_timeout_is_transient(px, pve):
    pve.lock_wait = 0.01
    pve.vm(9000).lock_holder = "scenario"
    with pytest.raises(TransientError) as info:
        px.put("nodes/pve1/qemu/9000/config", description="x")
    assert info.value.code == "config_lock"


def test_http_500_and_offline_node_are_transient(px, pve):
    pve.fail("GET", "/cluster/resources", 500, "boom", times=1)
    with pytest.raises(TransientError):
        ops.cluster_vms(px)
    assert len(ops.cluster_vms(px)) == 3  # the next call passes
    pve.set_node_offline("pve2")
    with pytest.raises(TransientError) as info:
        px.get("nodes/pve2/qemu/9002/config")
    assert info.value.code == "node_offline"


def test_dropped_connection_and_timeout_are_transient(pve, fakepve_cafile):
    from devstack.fakepve_demo import DEMO_TOKEN_SECRET

    quick = ProxmoxClient(pve.url, DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, verify=fakepve_cafile, timeout=0.5)
    pve.flaky_network(drop_rate=1.0, seed=1)
    with pytest.raises(TransientError) as info:
        quick.get("nodes")
    assert info.value.code == "connection"
    pve.flaky_network(hang_rate=1.0, hang_secs=2)
    with pytest.raises(TransientError) as info:
        quick.get("nodes")
    assert info.value.code == "timeout"


def test_clone_task_error_is_permanent_with_plain_words(px, pve):
    pve.storages["ceph-vm"]["avail"] = 1024**3
    upid = ops.clone(
        px,
        source_node="pve1",
        template_vmid=9000,
        newid=5001,
        name="big",
        full=True,
        target="pve1",
        storage="ceph-vm",
        pool="portal",
        description="d",
    )
    with pytest.raises(PermanentError) as info:
        px.wait_task(upid)
    assert info.value.code == "no_space"
    assert "space" in info.value.message_user
    assert "TASK ERROR" in info.value.message_admin and upid in info.value.message_admin
    assert ops.find_vm(px, 5001) is None  # PVE removed the half-made VM itself


def test_clone_configure_and_read_back(px, pve):
    upid = ops.clone(
        px,
        source_node="pve1",
        template_vmid=9000,
        newid=5002,
        name="web",
        full=True,
        target="pve1",
        storage=None,
        pool="portal",
        description="portal-request:1",
    )
    result = px.wait_task(upid)
    assert result.exitstatus == "OK" and result.node == "pve1"
    keys = "ssh-ed25519 AAAAC3Nza alice@example\nssh-rsa AAAAB3Nza bob@example\n"
    upid = ops.set_config(
        px, "pve1", 5002, cores=4, memory=4096, net0=ops.net0_value("vmbr1", 42), sshkeys=ops.encode_sshkeys(keys)
    )
    px.wait_task(upid)
    config = ops.vm_config(px, "pve1", 5002)
    assert int(config["cores"]) == 4 and int(config["memory"]) == 4096
    assert config["net0"] == "virtio,bridge=vmbr1,tag=42"
    assert urllib.parse.unquote(config["sshkeys"]) == keys.strip()
    assert "%20" in config["sshkeys"] and "+" not in config["sshkeys"]
    assert ops.boot_disk(config) == ("scsi0", 3584 * ops.MiB)
    assert ops.has_cloudinit_drive(config)


def test_nextid_check(px):
    assert ops.vmid_is_free(px, 123456)
    assert not ops.vmid_is_free(px, 9000)


def test_node_capacity_counts_vm_maxmem_and_skips_templates(px, pve):
    pve.add_vm(700, "a", node="pve1", status="running", config={"memory": 3072})
    pve.add_vm(701, "b", node="pve2", status="stopped", config={"memory": 1024})
    caps = ops.node_capacity(px)
    assert caps["pve1"].committed_mem == 3072 * ops.MiB and caps["pve1"].running == 1
    assert caps["pve2"].committed_mem == 1024 * ops.MiB and caps["pve2"].running == 0
    assert ops.pick_node(caps, 1024 * ops.MiB) == "pve2"  # fewer running VMs
    assert ops.pick_node(caps, 1024 * ops.MiB, allowed=["pve1"]) == "pve1"
    with pytest.raises(PermanentError) as info:
        ops.pick_node(caps, 7 * ops.GiB, allowed=["pve1"])
    assert info.value.code == "no_room"
    pve.set_node_offline("pve2")
    assert ops.node_capacity(px)["pve2"].online is False
    with pytest.raises(PermanentError):
        ops.pick_node(ops.node_capacity(px), ops.GiB, allowed=["pve2"])


def test_list_templates(px):
    found = {t.vmid: t for t in ops.list_templates(px)}
    assert set(found) == {9000, 9001, 9002}
    assert found[9000].cloud_init and found[9001].cloud_init and not found[9002].cloud_init
    assert found[9002].node == "pve2" and found[9002].tags == ["talos"]
    assert found[9000].disks == {"scsi0": 3584 * ops.MiB}
    assert found[9001].default_user == "debian"


def test_iso_upload_is_listed_and_deleted(px, pve):
    files = seed_files(
        hostname="web",
        instance_id="i-1",
        user_data="#cloud-config\n",
        network_config=network_config("BC:24:11:00:00:01"),
    )
    iso = build_iso(files)
    upid = ops.upload_iso(px, "pve1", "local", "portal-cidata-5.iso", iso)
    px.wait_task(upid)
    assert "local:iso/portal-cidata-5.iso" in ops.storage_volumes(px, "pve1", "local")
    assert pve.uploaded["data"] == iso  # the bytes arrived intact
    assert ops.iso_storages(px, "pve1") == ["local"]
    px.wait_task(ops.delete_volume(px, "pve1", "local", "local:iso/portal-cidata-5.iso"))
    assert "local:iso/portal-cidata-5.iso" not in ops.storage_volumes(px, "pve1", "local")


def test_seed_iso_is_readable_by_standard_tools(tmp_path):
    files = seed_files(
        hostname="web",
        instance_id="i-9",
        user_data="#cloud-config\npackages: [nginx]\n",
        network_config=network_config(None, "10.0.0.5/24", "10.0.0.1", ["1.1.1.1"]),
    )
    path = tmp_path / "seed.iso"
    path.write_bytes(build_iso(files))
    assert path.stat().st_size % 2048 == 0
    if shutil.which("blkid"):
        label = subprocess.run(["blkid", "-o", "value", "-s", "LABEL", str(path)], capture_output=True, text=True)
        assert label.stdout.strip() == "cidata"
    if not shutil.which("isoinfo"):
        pytest.skip("isoinfo (genisoimage) not installed: Joliet names not checked")
    listing = subprocess.run(["isoinfo", "-J", "-f", "-i", str(path)], capture_output=True, text=True).stdout
    assert set(listing.split()) == {"/meta-data", "/network-config", "/user-data"}
    for name, data in files.items():
        out = subprocess.run(["isoinfo", "-J", "-x", f"/{name}", "-i", str(path)], capture_output=True).stdout
        assert out == data
