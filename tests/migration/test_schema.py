"""Strict field validation with exact paths; the whitelist agrees with the KubeVirt OpenAPI."""

from __future__ import annotations

import json

import pytest

from migration.core import InputError, convert
from migration.core.kubevirt_fields import REQUIRED, TYPES
from migration.core.schema import validate

from .conftest import SCHEMAS, require_shared


def _vm(domain: dict, **spec) -> str:
    body = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": "ns"},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": domain, **spec}}},
    }
    return json.dumps(body)


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        convert(text)
    return info.value


def test_wrong_type_reports_exact_path_and_value():
    err = _error(_vm({"devices": {}, "cpu": {"cores": "four"}, "memory": {"guest": "1Gi"}}))
    assert err.path == "spec.template.spec.domain.cpu.cores"
    assert str(err) == '<input> document 1: spec.template.spec.domain.cpu.cores: expected integer, got "four"'


def test_typo_is_rejected_with_a_suggestion():
    err = _error(_vm({"devices": {"autoattachGraphicsDevices": False}, "memory": {"guest": "1Gi"}}))
    assert err.path == "spec.template.spec.domain.devices.autoattachGraphicsDevices"
    assert err.message == 'unknown field (did you mean "autoattachGraphicsDevice"?)'


def test_misplaced_key_is_rejected():
    err = _error(_vm({"devices": {}, "cpu": {"ioThreadsPolicy": "auto"}, "memory": {"guest": "1Gi"}}))
    assert err.path == "spec.template.spec.domain.cpu.ioThreadsPolicy"


def test_unknown_field_inside_list_items():
    err = _error(_vm({"devices": {"disks": [{"name": "a", "disk": {"buss": "virtio"}}]}, "memory": {"guest": "1Gi"}}))
    assert err.path == "spec.template.spec.domain.devices.disks[0].disk.buss"


def test_marker_objects_take_no_fields():
    domain = {"devices": {"interfaces": [{"name": "default", "bridge": {"x": 1}}]}, "memory": {"guest": "1Gi"}}
    err = _error(_vm(domain))
    assert err.path == "spec.template.spec.domain.devices.interfaces[0].bridge.x"


def test_invalid_quantity_and_enum_and_required():
    assert _error(_vm({"devices": {}, "memory": {"guest": "1g"}})).message == 'invalid quantity "1g"'
    err = _error(_vm({"devices": {"disks": [{"name": "a", "disk": {"bus": "ide"}}]}, "memory": {"guest": "1Gi"}}))
    assert err.path.endswith("disks[0].disk.bus") and "expected one of virtio, sata, scsi, usb" in err.message
    err = _error(_vm({"devices": {"disks": [{"disk": {}}]}, "memory": {"guest": "1Gi"}}))
    assert err.path == "spec.template.spec.domain.devices.disks[0].name"
    assert err.message == "required field is missing"


def test_booleans_are_not_integers():
    err = _error(_vm({"devices": {}, "cpu": {"sockets": True}, "memory": {"guest": "1Gi"}}))
    assert err.message == "expected integer, got boolean true"


def test_nulls_mean_unset():
    result = convert(_vm({"devices": {"disks": None}, "cpu": None, "memory": {"guest": "1Gi"}}, volumes=None))
    assert result.plans[0].qm_config["memory"] == 1024


def test_status_and_managed_fields_are_not_validated():
    doc = json.loads(_vm({"devices": {}, "memory": {"guest": "1Gi"}}))
    doc["status"] = {"whatever": {"deep": 1}}
    doc["metadata"]["managedFields"] = [{"fieldsV1": {"f:spec": {}}}]
    assert convert(json.dumps(doc)).plans[0].name == "vm"


def test_validate_paths_for_pool_and_vmi():
    with pytest.raises(InputError) as info:
        validate({"spec": {"domain": {"devices": {}, "cpuu": {}}}}, "v1.VirtualMachineInstance")
    assert info.value.path == "spec.domain.cpuu"


def _openapi() -> dict:
    require_shared(SCHEMAS)
    merged: dict = {}
    for name in ("virtualmachine-openapi.json", "vmi-pool-instancetype-openapi.json", "datavolume-openapi.json"):
        merged.update(json.loads((SCHEMAS / name).read_text()))
    return merged


_PREFIXES = {
    "core.": "k8s.io.api.core.v1.",
    "meta.": "k8s.io.apimachinery.pkg.apis.meta.v1.",
}


def _full(name: str) -> str:
    for short, full in _PREFIXES.items():
        if name.startswith(short):
            return full + name[len(short) :]
    return name


def test_whitelist_matches_the_openapi_definitions():
    openapi = _openapi()
    checked = 0
    for type_name, fields in TYPES.items():
        if type_name in ("cdi.DataVolume", "v1beta1.Instancetype", "v1beta1.Preference"):
            continue
        definition = openapi[_full(type_name)]
        props = {k: v for k, v in definition.get("properties", {}).items() if k != "status"}
        assert set(fields) == set(props), type_name
        for field, spec in fields.items():
            prop = props[field]
            if spec.startswith("@"):
                assert prop["$ref"].endswith(_full(spec[1:])), (type_name, field)
            elif spec == "i":
                assert prop.get("type") == "integer", (type_name, field)
            elif spec == "b":
                assert prop.get("type") == "boolean", (type_name, field)
            elif spec == "s":
                assert prop.get("type") == "string" or prop.get("$ref", "").endswith("Duration"), (type_name, field)
            elif spec.startswith("["):
                assert prop.get("type") == "array", (type_name, field)
            elif spec.startswith("{"):
                assert prop.get("type") == "object" and prop.get("additionalProperties"), (type_name, field)
            checked += 1
        assert tuple(r for r in definition.get("required", ()) if r != "status") == REQUIRED.get(type_name, ())
    assert checked > 600
