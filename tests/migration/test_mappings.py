"""Mapping files, unit handling and the exact qm encodings (sshkeys, MACs, VLANs)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from migration.core import InputError, Mappings, convert, load_map_file
from migration.core.quantity import parse_quantity, to_mib

from .vmfactory import baseline, mappings, render, vmi_spec


@pytest.mark.parametrize(
    ("quantity", "mib"),
    [("1Gi", 1024), ("1024M", 977), ("2G", 1908), ("128Mi", 128), ("64M", 62), ("1.5Gi", 1536), (1073741824, 1024),
     ("1e9", 954), ("3996Mi", 3996)],
)  # fmt: skip
def test_memory_units(quantity, mib):
    assert to_mib(parse_quantity(quantity)) == mib


@pytest.mark.parametrize("bad", ["1g", "1 Gi", "Gi", "1e999", "--1", ""])
def test_bad_quantities(bad):
    with pytest.raises(InputError):
        parse_quantity(bad)


def test_sshkeys_are_url_encoded_exactly_as_pve_wants():
    keys = "ssh-ed25519 AAAAC3Nza+/= alice@example\nssh-rsa AAAAB3Nz bob@example"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys", "namespace": "shop"},
              "stringData": {"a": keys}}  # fmt: skip
    vm = baseline()
    vmi_spec(vm)["accessCredentials"] = [
        {"sshPublicKey": {"source": {"secret": {"secretName": "keys"}}, "propagationMethod": {"noCloud": {}}}}
    ]
    config = convert(render(vm, secret), mappings()).plans[0].qm_config
    assert config["sshkeys"] == quote(keys, safe="")
    assert unquote(config["sshkeys"]) == keys
    assert "ide2" in config and config["ipconfig0"] == "ip=dhcp"


def test_base64_secret_data_is_decoded():
    import base64

    user_data = "#cloud-config\nuser: ops\n"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci"},
              "data": {"userdata": base64.b64encode(user_data.encode()).decode()}}  # fmt: skip
    vm = baseline()
    vmi_spec(vm)["domain"]["devices"]["disks"].append({"name": "ci", "disk": {}})
    vmi_spec(vm)["volumes"].append({"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "ci"}}})
    plan = convert(render(vm, secret), mappings()).plans[0]
    assert plan.cloud_init["userData"] == user_data
    assert plan.cloud_init["userDataSource"] == "secret:ci"
    assert plan.qm_config["ciuser"] == "ops"
    assert plan.qm_config["cicustom"] == "user=local:snippets/shop_web-user-data.yaml"


def test_network_map_bridge_vlan_and_default():
    vm = baseline()
    vmi_spec(vm)["domain"]["devices"]["interfaces"].append({"name": "other", "bridge": {}, "model": "e1000"})
    vmi_spec(vm)["networks"].append({"name": "other", "multus": {"networkName": "unknown"}})
    maps = Mappings.from_dicts(
        network={"networks": {"shop/lan": {"bridge": "vmbr1", "vlan": 30}}, "default": {"bridge": "vmbr9"}}
    )
    config = convert(render(vm), maps).plans[0].qm_config
    assert config["net0"] == "virtio,bridge=vmbr1,tag=30"
    assert config["net1"] == "e1000,bridge=vmbr9"


def test_storage_and_template_maps_apply():
    plan = convert(render(baseline()), mappings()).plans[0]
    (disk,) = plan.disks
    assert disk.storage == "local-zfs" and disk.size_gib == 20
    pmt = plan.capmox[0]["spec"]["template"]["spec"]
    assert pmt["templateID"] == 9000 and pmt["sourceNode"] == "pve1"
    assert pmt["disks"]["bootVolume"] == {"disk": "virtio0", "sizeGb": 20}
    assert plan.qm_config["virtio0"].startswith("local-zfs:0,import-from=/var/lib/vz/import/shop_web_root.raw")
    assert disk.commands[-1] == "qm disk resize $VMID virtio0 20G"


@pytest.mark.parametrize(
    ("kind", "data", "path"),
    [
        ("network", {"networks": {"a": {"bridge": "vmbr1", "vlan": 5000}}}, "networks.a.vlan"),
        ("network", {"netwerks": {}}, "netwerks"),
        ("storage", {"storageClasses": {"x": {"storage": "local lvm"}}}, "storageClasses.x.storage"),
        ("storage", {"default": {"storage": "ok", "format": "vdi"}}, "default.format"),
        ("templates", {"sources": {"img": {"templateID": 5}}}, "sources.img.templateID"),
        ("templates", {"sources": {"img": {"matchTags": ["bad tag"]}}}, "sources.img.matchTags[0]"),
    ],
)
def test_map_errors_name_the_field(kind, data, path):
    with pytest.raises(InputError) as info:
        Mappings.from_dicts(**{kind: data})
    assert info.value.path == path


def test_map_file_loading(tmp_path):
    good = tmp_path / "net.yaml"
    good.write_text("pod: {bridge: vmbr5}\n")
    assert load_map_file(good) == {"pod": {"bridge": "vmbr5"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("pod: {bridge: vmbr5, colour: red}\n")
    with pytest.raises(InputError) as info:
        Mappings.from_files(network=bad)
    assert info.value.source == str(bad) and info.value.path == "pod.colour"
