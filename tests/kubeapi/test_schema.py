"""openAPIV3Schema handling: 422 Invalid with causes, pruning of unknown fields, defaults."""

import copy
import json

import pytest
from kubernetes.client.exceptions import ApiException

from devstack.kubeapi import FakeKubeAPI

CAPMOX = ("infrastructure.cluster.x-k8s.io", "v1alpha2")

VALID_TEMPLATE = {
    "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2",
    "kind": "ProxmoxMachineTemplate",
    "metadata": {"name": "c1-workers"},
    "spec": {
        "template": {
            "spec": {
                "sourceNode": "pve1",
                "templateID": 9000,
                "full": True,
                "numSockets": 1,
                "numCores": 2,
                "memoryMiB": 4096,
                "disks": {"bootVolume": {"disk": "scsi0", "sizeGb": 20}},
                "network": {"networkDevices": [{"bridge": "vmbr0"}]},
            }
        }
    },
}


def _template(**changes):
    body = copy.deepcopy(VALID_TEMPLATE)
    body["spec"]["template"]["spec"].update(changes)
    return body


def _create(custom, body, **kw):
    return custom.create_namespaced_custom_object(*CAPMOX, "default", "proxmoxmachinetemplates", body, **kw)


@pytest.fixture
def upstream(kubeapi, shared_crds):
    """Skips unless the upstream capmox CRDs from ../shared were loaded."""
    if not kubeapi.crd_dirs:
        pytest.skip("fake server runs with built-in CRDs only (PORTAL_SHARED_DIR points elsewhere)")
    return kubeapi


def test_valid_template_is_accepted_and_defaulted(upstream, custom):
    created = _create(custom, _template())
    device = created["spec"]["template"]["spec"]["network"]["networkDevices"][0]
    assert device == {"bridge": "vmbr0", "name": "net0", "model": "virtio"}  # schema defaults


def test_memory_as_string_is_422_with_cause(upstream, custom):
    with pytest.raises(ApiException) as err:
        _create(custom, _template(memoryMiB="4096"))
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "ProxmoxMachineTemplate"
    assert body["details"]["group"] == "infrastructure.cluster.x-k8s.io"
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.template.spec.memoryMiB in body must be of type integer: '
            '"string"',
            "field": "spec.template.spec.memoryMiB",
        }
    ]
    assert body["message"].startswith(
        'ProxmoxMachineTemplate.infrastructure.cluster.x-k8s.io "c1-workers" is invalid: '
        "spec.template.spec.memoryMiB: Invalid value"
    )


def test_several_violations_are_all_reported(upstream, custom):
    body = _template(numCores=0)
    del body["spec"]["template"]["spec"]["network"]
    body["spec"]["template"]["spec"]["disks"]["bootVolume"]["sizeGb"] = 1
    with pytest.raises(ApiException) as err:
        _create(custom, body)
    causes = {c["field"]: c["reason"] for c in json.loads(err.value.body)["details"]["causes"]}
    assert causes == {
        "spec.template.spec.network": "FieldValueRequired",
        "spec.template.spec.numCores": "FieldValueInvalid",
        "spec.template.spec.disks.bootVolume.sizeGb": "FieldValueInvalid",
    }


def test_enum_violation_is_not_supported_cause(upstream, custom):
    body = _template(network={"networkDevices": [{"bridge": "vmbr0", "model": "ne2000"}]})
    with pytest.raises(ApiException) as err:
        _create(custom, body)
    (cause,) = json.loads(err.value.body)["details"]["causes"]
    assert cause["reason"] == "FieldValueNotSupported"
    assert cause["field"] == "spec.template.spec.network.networkDevices[0].model"
    assert '"virtio"' in cause["message"]


def test_unknown_fields_are_pruned_with_a_warning(upstream, custom):
    body = _template(notAField=True)
    body["topLevelJunk"] = 1
    data, status, headers = custom.create_namespaced_custom_object_with_http_info(
        *CAPMOX, "default", "proxmoxmachinetemplates", body
    )
    assert status == 201
    assert "notAField" not in data["spec"]["template"]["spec"]
    assert "topLevelJunk" not in data
    stored = custom.get_namespaced_custom_object(*CAPMOX, "default", "proxmoxmachinetemplates", "c1-workers")
    assert "notAField" not in stored["spec"]["template"]["spec"]
    assert headers["Warning"] == (
        '299 - "unknown field \\"spec.template.spec.notAField\\"", 299 - "unknown field \\"topLevelJunk\\""'
    )


def test_strict_field_validation_rejects_unknown_fields(upstream, custom):
    with pytest.raises(ApiException) as err:
        _create(custom, _template(notAField=True), field_validation="Strict")
    assert err.value.status == 400
    assert 'unknown field "spec.template.spec.notAField"' in json.loads(err.value.body)["message"]


def test_apply_is_validated_too(upstream, dynamic):
    templates = dynamic.resources.get(
        api_version="infrastructure.cluster.x-k8s.io/v1alpha2", kind="ProxmoxMachineTemplate"
    )
    body = _template(memoryMiB="lots")
    body["metadata"]["namespace"] = "default"
    with pytest.raises(ApiException) as err:
        templates.server_side_apply(body=body, field_manager="proxmox-portal")
    assert err.value.status == 422
    ok = _template()
    ok["metadata"]["namespace"] = "default"
    first = templates.server_side_apply(body=ok, field_manager="proxmox-portal")
    again = templates.server_side_apply(body=ok, field_manager="proxmox-portal")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion  # defaults do not break no-op


def test_builtin_permissive_crd_prunes_only_top_level_unknowns():
    with FakeKubeAPI() as server:
        from kubernetes import client

        custom = client.CustomObjectsApi(server.client())
        created = custom.create_namespaced_custom_object(
            *CAPMOX,
            "default",
            "proxmoxmachinetemplates",
            {**_template(memoryMiB="any", anything={"goes": 1}), "junk": True},
        )
        assert created["spec"]["template"]["spec"]["anything"] == {"goes": 1}
        assert created["spec"]["template"]["spec"]["memoryMiB"] == "any"
        assert "junk" not in created


def test_invalid_object_name_is_422(custom):
    with pytest.raises(ApiException) as err:
        _create(custom, {**_template(), "metadata": {"name": "Not_Valid"}})
    assert err.value.status == 422
    (cause,) = json.loads(err.value.body)["details"]["causes"]
    assert cause["field"] == "metadata.name"
