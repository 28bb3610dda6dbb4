"""The built-in instancetype/preference table and its expansion into sockets/cores/memory."""

from __future__ import annotations

import json

import pytest

from migration.core import INSTANCETYPES, PREFERENCES, convert

from .conftest import SCHEMAS, require_shared
from .vmfactory import baseline, mappings, render, vmi_spec


@pytest.fixture(scope="module")
def upstream() -> dict:
    require_shared(SCHEMAS)
    return json.loads((SCHEMAS / "common-instancetypes.json").read_text())


def test_instancetypes_match_common_instancetypes(upstream):
    expected = {entry["name"]: entry["spec"] for entry in upstream["instancetypes"]}
    assert expected == INSTANCETYPES


def test_preferences_match_common_instancetypes(upstream):
    expected = {entry["name"]: entry["spec"] for entry in upstream["preferences"]}
    assert expected == PREFERENCES


def _plan(vm, *extra):
    return convert(render(vm, *extra), mappings()).plans[0]


def _with_types(instancetype=None, preference=None) -> dict:
    vm = baseline()
    vmi_spec(vm)["domain"].pop("cpu")
    vmi_spec(vm)["domain"].pop("memory")
    if instancetype:
        vm["spec"]["instancetype"] = {"name": instancetype}
    if preference:
        vm["spec"]["preference"] = {"name": preference}
    return vm


@pytest.mark.parametrize(
    ("instancetype", "preference", "sockets", "cores", "memory", "balloon"),
    [
        ("u1.medium", None, 1, 1, 4096, 4096),
        ("u1.2xlarge", None, 8, 1, 32768, 32768),
        ("o1.large", None, 2, 1, 8192, 4096),  # overcommitPercent 50 -> balloon floor
        ("u1.xlarge", "windows.11", 1, 4, 16384, 16384),  # preferredCPUTopology cores
        ("n1.xlarge", "rhel.9.dpdk", 1, 8, 16384, 16384),  # spread across SocketsCoresThreads ratio 4: 1x4x2
        ("cx1.medium", None, 1, 1, 2048, 2048),
    ],
)
def test_expansion(instancetype, preference, sockets, cores, memory, balloon):
    config = _plan(_with_types(instancetype, preference)).qm_config
    assert (config["sockets"], config["cores"], config["memory"], config["balloon"]) == (
        sockets,
        cores,
        memory,
        balloon,
    )


def test_cluster_instancetype_hugepages_and_numa_carry_over():
    config = _plan(_with_types("cx1.large")).qm_config
    assert config["hugepages"] == "2" and config["numa"] == 1


def test_preference_supplies_buses_models_and_firmware():
    vm = _with_types("u1.small", "windows.2k22")
    vmi_spec(vm)["domain"]["devices"] = {
        "disks": [{"name": "root", "disk": {}}],
        "interfaces": [{"name": "lan", "bridge": {}}],
    }
    config = _plan(vm).qm_config
    assert "sata0" in config and config["net0"].startswith("e1000e,")
    assert config["bios"] == "ovmf" and config["efidisk0"].endswith("pre-enrolled-keys=1")
    assert config["tpmstate0"].endswith("version=v2.0") and config["ostype"] == "win11"
    assert config["startup"] == "down=3600"


def test_user_definitions_in_the_input_extend_the_table():
    custom = {
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineInstancetype",
        "metadata": {"name": "tiny", "namespace": "shop"},
        "spec": {"cpu": {"guest": 3}, "memory": {"guest": "1536Mi"}},
    }
    vm = _with_types()
    vm["spec"]["instancetype"] = {"kind": "VirtualMachineInstancetype", "name": "tiny"}
    plan = _plan(vm, custom)
    assert (plan.qm_config["sockets"], plan.qm_config["memory"]) == (3, 1536)
    assert not [c for c in plan.concerns if c.id == "unresolved-definition"]


def test_cluster_preference_override_wins_over_builtin():
    custom = {
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineClusterPreference",
        "metadata": {"name": "ubuntu"},
        "spec": {"devices": {"preferredInterfaceModel": "rtl8139"}},
    }
    vm = _with_types("u1.small", "ubuntu")
    vmi_spec(vm)["domain"]["devices"]["interfaces"] = [{"name": "lan", "bridge": {}}]
    assert _plan(vm, custom).qm_config["net0"].startswith("rtl8139,")


def test_invalid_user_definition_is_rejected_with_path():
    from migration.core import InputError

    bad = {
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineClusterInstancetype",
        "metadata": {"name": "bad"},
        "spec": {"cpu": {"guest": "two"}, "memory": {"guest": "1Gi"}},
    }
    with pytest.raises(InputError) as info:
        convert(render(bad))
    assert info.value.path == "spec.cpu.guest"


def test_infer_from_volume_is_reported_unresolved():
    vm = _with_types()
    vm["spec"]["instancetype"] = {"inferFromVolume": "root"}
    concerns = [c for c in _plan(vm).concerns if c.id == "unresolved-definition"]
    assert any("inferred from volume root" in c.assessment for c in concerns)


def test_foreign_kind_with_same_name_is_ignored():
    other = {"apiVersion": "example.com/v1", "kind": "VirtualMachine", "metadata": {"name": "x"}, "spec": {"a": 1}}
    result = convert(render(other, baseline()), mappings())
    assert [p.name for p in result.plans] == ["web"]
    assert result.ignored[0]["kind"] == "VirtualMachine"
