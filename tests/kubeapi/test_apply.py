"""Server-side apply as the portal does it: DynamicClient(...).server_side_apply(field_manager='proxmox-portal')."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

MANAGER = "proxmox-portal"


def _md(replicas=2, labels=None, machine_spec=None):
    """A MachineDeployment valid against the upstream v1beta2 schema (and the built-in permissive one)."""
    spec = {
        "clusterName": "c1",
        "replicas": replicas,
        "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "c1"}},
        "template": {
            "spec": {
                "clusterName": "c1",
                "bootstrap": {
                    "configRef": {
                        "apiGroup": "bootstrap.cluster.x-k8s.io",
                        "kind": "KubeadmConfigTemplate",
                        "name": "c1-workers",
                    }
                },
                "infrastructureRef": {
                    "apiGroup": "infrastructure.cluster.x-k8s.io",
                    "kind": "ProxmoxMachineTemplate",
                    "name": "c1-workers",
                },
                **(machine_spec or {}),
            }
        },
    }
    return {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "MachineDeployment",
        "metadata": {"name": "c1-workers", "namespace": "default", "labels": labels or {"portal/cluster": "c1"}},
        "spec": spec,
    }


@pytest.fixture
def mds(dynamic):
    return dynamic.resources.get(api_version="cluster.x-k8s.io/v1beta2", kind="MachineDeployment")


def _apply(resource, body, **kw):
    return resource.server_side_apply(body=body, field_manager=MANAGER, **kw)


def test_apply_creates_missing_object_with_apply_managed_fields(mds):
    created = _apply(mds, _md())
    assert created.metadata.generation == 1
    assert created.spec.replicas == 2
    entries = [e for e in created.to_dict()["metadata"]["managedFields"] if e["manager"] == MANAGER]
    assert len(entries) == 1
    assert entries[0]["operation"] == "Apply"
    assert entries[0]["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert entries[0]["fieldsV1"]["f:metadata"]["f:labels"] == {"f:portal/cluster": {}}


def test_reapply_without_changes_is_a_no_op(mds):
    first = _apply(mds, _md())
    second = _apply(mds, _md())
    assert second.metadata.resourceVersion == first.metadata.resourceVersion
    assert second.metadata.generation == first.metadata.generation
    assert second.to_dict()["metadata"]["managedFields"] == first.to_dict()["metadata"]["managedFields"]


def test_apply_change_bumps_generation_and_resource_version(mds):
    first = _apply(mds, _md(replicas=2))
    second = _apply(mds, _md(replicas=3))
    assert second.spec.replicas == 3
    assert second.metadata.generation == first.metadata.generation + 1
    assert int(second.metadata.resourceVersion) > int(first.metadata.resourceVersion)


def test_label_only_change_keeps_generation(mds):
    first = _apply(mds, _md())
    second = _apply(mds, _md(labels={"portal/cluster": "c1", "portal/tenant": "acme"}))
    assert second.metadata.generation == first.metadata.generation
    assert second.metadata.resourceVersion != first.metadata.resourceVersion


def test_fields_dropped_from_applied_config_are_removed_but_others_fields_stay(mds):
    _apply(mds, _md(machine_spec={"minReadySeconds": 10}))
    # A controller (different manager, plain update) adds its own field and label.
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={
            "metadata": {"labels": {"controller/owned": "yes"}},
            "spec": {"template": {"spec": {"failureDomain": "pve1"}}},
        },
        content_type="application/merge-patch+json",
        field_manager="capi-controller",
    )
    result = _apply(mds, _md())  # minReadySeconds no longer applied
    assert "minReadySeconds" not in result.to_dict()["spec"]["template"]["spec"]
    assert result.spec.template.spec.failureDomain == "pve1"
    assert dict(result.metadata.labels) == {"portal/cluster": "c1", "controller/owned": "yes"}
    managers = {e["manager"]: e["operation"] for e in result.to_dict()["metadata"]["managedFields"]}
    assert managers == {MANAGER: "Apply", "capi-controller": "Update"}


def test_conflict_with_other_manager_is_409_unless_forced(mds):
    _apply(mds, _md(replicas=2))
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
        field_manager="autoscaler",
    )
    with pytest.raises(ApiException) as err:
        _apply(mds, _md(replicas=2))
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"].startswith('Apply failed with 1 conflict: conflict with "autoscaler"')
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "autoscaler" using cluster.x-k8s.io/v1beta2',
            "field": ".spec.replicas",
        }
    ]
    assert mds.get(name="c1-workers", namespace="default").spec.replicas == 5

    forced = _apply(mds, _md(replicas=2), force_conflicts=True)
    assert forced.spec.replicas == 2
    entries = forced.to_dict()["metadata"]["managedFields"]
    autoscaler = [e for e in entries if e["manager"] == "autoscaler"]
    assert all("f:replicas" not in e["fieldsV1"].get("f:spec", {}) for e in autoscaler)


def test_same_value_from_two_managers_is_shared_without_conflict(mds):
    _apply(mds, _md(replicas=2))
    other = mds.server_side_apply(body=_md(replicas=2), field_manager="gitops")
    assert other.spec.replicas == 2
    entries = other.to_dict()["metadata"]["managedFields"]
    owners = [e["manager"] for e in entries if "f:replicas" in e["fieldsV1"].get("f:spec", {})]
    assert sorted(owners) == ["gitops", MANAGER]
    # The portal stops applying replicas: gitops still owns it, so the value stays.
    body = _md()
    del body["spec"]["replicas"]
    after = _apply(mds, body)
    assert after.spec.replicas == 2


def test_apply_ignores_status_on_main_resource_and_applies_status_subresource(dynamic, mds):
    body = _md()
    body["status"] = {"replicas": 9}
    created = _apply(mds, body)
    assert "status" not in created.to_dict()
    status_body = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "MachineDeployment",
        "metadata": {"name": "c1-workers", "namespace": "default"},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    updated = dynamic.server_side_apply(mds.status, body=status_body, field_manager="capi-controller")
    assert updated.status.readyReplicas == 1
    assert updated.metadata.generation == created.metadata.generation
    entries = updated.to_dict()["metadata"]["managedFields"]
    assert [e["manager"] for e in entries if e.get("subresource") == "status"] == ["capi-controller"]


def test_apply_requires_field_manager(dynamic, mds):
    with pytest.raises(ApiException) as err:
        dynamic.request(
            "patch",
            mds.path(name="c1-workers", namespace="default"),
            body=_md(),
            content_type="application/apply-patch+yaml",
        )
    assert err.value.status == 400
    assert "fieldManager: Required value" in json.loads(err.value.body)["message"]


def test_apply_into_missing_namespace_is_404(mds):
    body = _md()
    body["metadata"]["namespace"] = "absent"
    with pytest.raises(ApiException) as err:
        _apply(mds, body)
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "absent" not found'


def test_apply_secret_and_namespace(dynamic, core):
    namespaces = dynamic.resources.get(api_version="v1", kind="Namespace")
    secrets = dynamic.resources.get(api_version="v1", kind="Secret")
    namespaces.server_side_apply(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme"}}, field_manager=MANAGER
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "c1-proxmox-credentials", "namespace": "tenant-acme"},
        "stringData": {"token": "abc"},
    }
    first = secrets.server_side_apply(body=secret, field_manager=MANAGER)
    again = secrets.server_side_apply(body=secret, field_manager=MANAGER)
    assert again.metadata.resourceVersion == first.metadata.resourceVersion
    assert core.read_namespaced_secret("c1-proxmox-credentials", "tenant-acme").data == {"token": "YWJj"}


def test_apply_after_plain_create_takes_over_without_conflict_when_values_match(custom, mds):
    custom.create_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", "default", "machinedeployments", _md())
    applied = _apply(mds, _md())
    managers = sorted(e["manager"] for e in applied.to_dict()["metadata"]["managedFields"])
    assert managers == ["OpenAPI-Generator", MANAGER]


def test_empty_map_in_applied_config_does_not_clear_other_managers_keys(mds):
    _apply(mds, _md())
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={"metadata": {"annotations": {"controller/note": "kept"}}},
        content_type="application/merge-patch+json",
        field_manager="capi-controller",
    )
    body = _md()
    body["metadata"]["annotations"] = {}
    result = _apply(mds, body)
    assert dict(result.metadata.annotations) == {"controller/note": "kept"}


def test_status_managers_survive_main_resource_writes(dynamic, mds):
    _apply(mds, _md())
    status_body = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "MachineDeployment",
        "metadata": {"name": "c1-workers", "namespace": "default"},
        "status": {"replicas": 2},
    }
    dynamic.server_side_apply(mds.status, body=status_body, field_manager="capi-controller")
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
        field_manager="someone",
    )
    result = _apply(mds, _md(replicas=3))
    entries = result.to_dict()["metadata"]["managedFields"]
    status_entries = [e for e in entries if e.get("subresource") == "status"]
    assert status_entries and status_entries[0]["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    assert result.status.replicas == 2


def test_finalizers_are_a_set_shared_between_managers(mds):
    body = _md()
    body["metadata"]["finalizers"] = ["portal.example/cleanup"]
    _apply(mds, body)
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={"metadata": {"finalizers": ["portal.example/cleanup", "cluster.x-k8s.io/machinedeployment"]}},
        content_type="application/merge-patch+json",
        field_manager="capi-controller",
    )
    again = _apply(mds, body)  # no conflict: each manager owns its own set element
    assert list(again.metadata.finalizers) == ["portal.example/cleanup", "cluster.x-k8s.io/machinedeployment"]
    fields = next(e for e in again.to_dict()["metadata"]["managedFields"] if e["manager"] == MANAGER)["fieldsV1"]
    assert fields["f:metadata"]["f:finalizers"] == {'v:"portal.example/cleanup"': {}}

    del body["metadata"]["finalizers"]
    dropped = _apply(mds, body)
    assert list(dropped.metadata.finalizers) == ["cluster.x-k8s.io/machinedeployment"]


def test_owner_references_merge_by_uid(mds):
    body = _md()
    body["metadata"]["ownerReferences"] = [
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": "c1", "uid": "uid-cluster"}
    ]
    _apply(mds, body)
    current = mds.get(name="c1-workers", namespace="default").to_dict()
    refs = current["metadata"]["ownerReferences"] + [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "uid-other"}
    ]
    mds.patch(
        name="c1-workers",
        namespace="default",
        body={"metadata": {"ownerReferences": refs}},
        content_type="application/merge-patch+json",
        field_manager="someone-else",
    )
    body["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    result = _apply(mds, body).to_dict()
    by_uid = {ref["uid"]: ref for ref in result["metadata"]["ownerReferences"]}
    assert set(by_uid) == {"uid-cluster", "uid-other"}
    assert by_uid["uid-cluster"]["blockOwnerDeletion"] is True


def test_list_map_items_merge_by_key_with_upstream_schema(kubeapi, dynamic):
    if not kubeapi.crd_dirs:
        pytest.skip("needs the upstream capmox CRD (networkDevices is an x-kubernetes-list-type: map)")
    templates = dynamic.resources.get(
        api_version="infrastructure.cluster.x-k8s.io/v1alpha2", kind="ProxmoxMachineTemplate"
    )

    def template(devices):
        return {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2",
            "kind": "ProxmoxMachineTemplate",
            "metadata": {"name": "c1-workers", "namespace": "default"},
            "spec": {
                "template": {
                    "spec": {
                        "sourceNode": "pve1",
                        "templateID": 9000,
                        "network": {"networkDevices": devices},
                    }
                }
            },
        }

    def devices(obj):
        return obj.to_dict()["spec"]["template"]["spec"]["network"]["networkDevices"]

    _apply(templates, template([{"name": "net0", "bridge": "vmbr0"}]))
    templates.patch(
        name="c1-workers",
        namespace="default",
        body=[{"op": "add", "path": "/spec/template/spec/network/networkDevices/0/mtu", "value": 1500}],
        content_type="application/json-patch+json",
        field_manager="tuner",
    )
    # Changing another field of the same item does not conflict and keeps the tuner's mtu.
    result = _apply(templates, template([{"name": "net0", "bridge": "vmbr1"}]))
    assert devices(result) == [{"name": "net0", "bridge": "vmbr1", "model": "virtio", "mtu": 1500}]
    fields = next(e for e in result.to_dict()["metadata"]["managedFields"] if e["manager"] == MANAGER)["fieldsV1"]
    item = fields["f:spec"]["f:template"]["f:spec"]["f:network"]["f:networkDevices"]['k:{"name":"net0"}']
    assert item == {".": {}, "f:bridge": {}, "f:name": {}}

    added = _apply(templates, template([{"name": "net0", "bridge": "vmbr1"}, {"name": "net1", "bridge": "vmbr2"}]))
    assert [d["name"] for d in devices(added)] == ["net0", "net1"]
    removed = _apply(templates, template([{"name": "net0", "bridge": "vmbr1"}]))
    assert [d["name"] for d in devices(removed)] == ["net0"]

    with pytest.raises(ApiException) as err:
        _apply(templates, template([{"name": "net0", "bridge": "vmbr1", "mtu": 9000}]))
    assert err.value.status == 409
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == '.spec.template.spec.network.networkDevices[name="net0"].mtu'
