"""Custom resources through CustomObjectsApi and DynamicClient: CRUD, status subresource, finalizers."""

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

CAPI = ("cluster.x-k8s.io", "v1beta2")


def _cluster(name, labels=None, spec=None):
    return {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec if spec is not None else {"paused": False},
    }


def _create_cluster(custom, name, namespace="default", **kw):
    return custom.create_namespaced_custom_object(*CAPI, namespace, "clusters", _cluster(name, **kw))


def test_custom_object_create_get_list_patch_delete(custom):
    created = _create_cluster(custom, "c1", labels={"portal/tenant": "acme"})
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["namespace"] == "default"
    assert created["kind"] == "Cluster"

    read = custom.get_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert read["metadata"]["uid"] == created["metadata"]["uid"]

    listed = custom.list_namespaced_custom_object(*CAPI, "default", "clusters", label_selector="portal/tenant=acme")
    assert listed["kind"] == "ClusterList"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["c1"]
    assert listed["items"][0]["apiVersion"] == "cluster.x-k8s.io/v1beta2"

    patched = custom.patch_namespaced_custom_object(*CAPI, "default", "clusters", "c1", {"spec": {"paused": True}})
    assert patched["spec"]["paused"] is True
    assert patched["metadata"]["generation"] == 2

    relabelled = custom.patch_namespaced_custom_object(
        *CAPI, "default", "clusters", "c1", {"metadata": {"labels": {"x": "y"}}}
    )
    assert relabelled["metadata"]["generation"] == 2  # metadata changes do not bump generation

    deleted = custom.delete_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert deleted["status"] == "Success"
    assert deleted["details"] == {
        "name": "c1",
        "group": "cluster.x-k8s.io",
        "kind": "clusters",
        "uid": created["metadata"]["uid"],
    }
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    body = json.loads(err.value.body)
    assert err.value.status == 404
    assert body["message"] == 'clusters.cluster.x-k8s.io "c1" not found'
    assert body["details"] == {"name": "c1", "group": "cluster.x-k8s.io", "kind": "clusters"}


def test_cluster_list_across_namespaces(custom, core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="tenant-b")))
    _create_cluster(custom, "a", namespace="default")
    _create_cluster(custom, "b", namespace="tenant-b")
    listed = custom.list_cluster_custom_object(*CAPI, "clusters")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("default", "a"),
        ("tenant-b", "b"),
    ]


def test_custom_create_conflict_and_stale_replace(custom):
    first = _create_cluster(custom, "c1")
    with pytest.raises(ApiException) as err:
        _create_cluster(custom, "c1")
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "AlreadyExists"

    first["spec"]["paused"] = True
    custom.replace_namespaced_custom_object(*CAPI, "default", "clusters", "c1", first)
    first["spec"]["paused"] = False  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(*CAPI, "default", "clusters", "c1", first)
    assert err.value.status == 409
    assert json.loads(err.value.body)["message"].startswith(
        'Operation cannot be fulfilled on clusters.cluster.x-k8s.io "c1": the object has been modified'
    )


def test_custom_replace_without_resource_version_is_invalid(custom):
    created = _create_cluster(custom, "c1")
    del created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(*CAPI, "default", "clusters", "c1", created)
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_status_subresource_semantics(custom):
    created = _create_cluster(custom, "c1")
    # Writes to the main resource ignore .status ...
    created["status"] = {"phase": "Provisioned"}
    replaced = custom.replace_namespaced_custom_object(*CAPI, "default", "clusters", "c1", created)
    assert "status" not in replaced
    assert replaced["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # no-op write

    # ... and writes to /status change only .status, without bumping generation.
    replaced["status"] = {"phase": "Provisioned"}
    replaced["spec"] = {"paused": True}
    updated = custom.replace_namespaced_custom_object_status(*CAPI, "default", "clusters", "c1", replaced)
    assert updated["status"] == {"phase": "Provisioned"}
    assert updated["spec"] == {"paused": False}
    assert updated["metadata"]["generation"] == 1

    patched = custom.patch_namespaced_custom_object_status(
        *CAPI, "default", "clusters", "c1", {"status": {"initialization": {"infrastructureProvisioned": True}}}
    )
    assert patched["status"] == {"phase": "Provisioned", "initialization": {"infrastructureProvisioned": True}}
    assert patched["metadata"]["generation"] == 1


def test_status_path_of_kind_without_status_subresource_is_404(custom):
    custom.create_namespaced_custom_object(
        "bootstrap.cluster.x-k8s.io",
        "v1beta2",
        "default",
        "kubeadmconfigtemplates",
        {
            "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2",
            "kind": "KubeadmConfigTemplate",
            "metadata": {"name": "k"},
            "spec": {"template": {"spec": {"format": "cloud-config"}}},
        },
    )
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object_status(
            "bootstrap.cluster.x-k8s.io", "v1beta2", "default", "kubeadmconfigtemplates", "k"
        )
    assert err.value.status == 404


def test_finalizers_delay_deletion_until_cleared(custom):
    _create_cluster(custom, "c1")
    custom.patch_namespaced_custom_object(
        *CAPI, "default", "clusters", "c1", {"metadata": {"finalizers": ["cluster.cluster.x-k8s.io"]}}
    )
    marked = custom.delete_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert marked["metadata"]["deletionTimestamp"]
    still_there = custom.get_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert still_there["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            *CAPI, "default", "clusters", "c1", {"metadata": {"finalizers": ["cluster.cluster.x-k8s.io", "extra"]}}
        )
    assert err.value.status == 422

    custom.patch_namespaced_custom_object(*CAPI, "default", "clusters", "c1", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert err.value.status == 404


def test_namespace_deletion_removes_contents(custom, core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="gone")))
    _create_cluster(custom, "c1", namespace="gone")
    core.create_namespaced_secret("gone", client.V1Secret(metadata=client.V1ObjectMeta(name="s")))
    core.delete_namespace("gone")
    assert custom.list_cluster_custom_object(*CAPI, "clusters")["items"] == []
    with pytest.raises(ApiException) as err:
        core.read_namespace("gone")
    assert err.value.status == 404


def test_namespace_with_finalized_object_stays_terminating(custom, core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="slow")))
    _create_cluster(custom, "c1", namespace="slow")
    custom.patch_namespaced_custom_object(*CAPI, "slow", "clusters", "c1", {"metadata": {"finalizers": ["f"]}})
    core.delete_namespace("slow")
    assert core.read_namespace("slow").status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        _create_cluster(custom, "c2", namespace="slow")
    assert err.value.status == 403

    custom.patch_namespaced_custom_object(*CAPI, "slow", "clusters", "c1", {"metadata": {"finalizers": []}})
    with pytest.raises(ApiException) as err:
        core.read_namespace("slow")
    assert err.value.status == 404


def test_strategic_merge_patch_on_custom_resource_is_415(dynamic, custom):
    _create_cluster(custom, "c1")
    clusters = dynamic.resources.get(api_version="cluster.x-k8s.io/v1beta2", kind="Cluster")
    with pytest.raises(ApiException) as err:
        clusters.patch(name="c1", namespace="default", body={"spec": {"paused": True}})  # default: strategic
    assert err.value.status == 415
    assert json.loads(err.value.body)["reason"] == "UnsupportedMediaType"


def test_json_patch_and_merge_patch_via_dynamic_client(dynamic, custom):
    _create_cluster(custom, "c1", labels={"a": "1"})
    clusters = dynamic.resources.get(api_version="cluster.x-k8s.io/v1beta2", kind="Cluster")
    patched = clusters.patch(
        name="c1",
        namespace="default",
        body=[
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "replace", "path": "/spec/paused", "value": True},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        ],
        content_type="application/json-patch+json",
    )
    assert patched.spec.paused is True
    assert dict(patched.metadata.labels) == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as err:
        clusters.patch(
            name="c1",
            namespace="default",
            body=[{"op": "test", "path": "/metadata/labels/a", "value": "wrong"}],
            content_type="application/json-patch+json",
        )
    assert err.value.status == 422

    merged = clusters.patch(
        name="c1",
        namespace="default",
        body={"metadata": {"labels": {"a": None}}},
        content_type="application/merge-patch+json",
    )
    assert dict(merged.metadata.labels) == {"b": "2"}


def test_discovery_serves_crds_and_status_subresources(dynamic, kubeapi):
    cluster = dynamic.resources.get(api_version="cluster.x-k8s.io/v1beta2", kind="Cluster")
    assert cluster.namespaced is True
    assert cluster.name == "clusters"
    assert "status" in cluster.subresources
    template = dynamic.resources.get(
        api_version="infrastructure.cluster.x-k8s.io/v1alpha2", kind="ProxmoxMachineTemplate"
    )
    assert "status" not in (template.subresources or {})
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced
    namespace = dynamic.resources.get(api_version="v1", kind="Namespace")
    assert namespace.namespaced is False
    assert dynamic.version["kubernetes"]["major"] == "1"


def test_crd_listing_reports_loaded_crds_and_served_versions(dynamic):
    crds = dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    listed = {item.metadata.name: item for item in crds.get().items}
    for name in (
        "clusters.cluster.x-k8s.io",
        "machinedeployments.cluster.x-k8s.io",
        "kamajicontrolplanes.controlplane.cluster.x-k8s.io",
        "proxmoxclusters.infrastructure.cluster.x-k8s.io",
        "proxmoxmachinetemplates.infrastructure.cluster.x-k8s.io",
        "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
        "machinehealthchecks.cluster.x-k8s.io",
        "virtualmachines.kubevirt.io",
        "helmreleases.helm.toolkit.fluxcd.io",
    ):
        assert name in listed, name
    cluster_crd = listed["clusters.cluster.x-k8s.io"]
    served = [v.name for v in cluster_crd.spec.versions if v.served]
    assert "v1beta2" in served
    established = {c.type: c.status for c in cluster_crd.status.conditions}
    assert established["Established"] == "True"


def test_add_crd_at_runtime(kubeapi, dynamic, custom):
    kubeapi.add_crd(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "scope": "Cluster",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer", "minimum": 1}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    created = custom.create_cluster_custom_object(
        "example.com",
        "v1",
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}},
    )
    assert "namespace" not in created["metadata"]
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object(
            "example.com",
            "v1",
            "widgets",
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 0}},
        )
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "spec.size"


def test_delete_collection_by_label(custom):
    _create_cluster(custom, "a", labels={"portal/tenant": "acme"})
    _create_cluster(custom, "b", labels={"portal/tenant": "acme"})
    _create_cluster(custom, "c", labels={"portal/tenant": "other"})
    deleted = custom.delete_collection_namespaced_custom_object(
        *CAPI, "default", "clusters", label_selector="portal/tenant=acme"
    )
    assert sorted(item["metadata"]["name"] for item in deleted["items"]) == ["a", "b"]
    remaining = custom.list_namespaced_custom_object(*CAPI, "default", "clusters")
    assert [item["metadata"]["name"] for item in remaining["items"]] == ["c"]


def test_deleting_a_crd_stops_serving_its_kind(kubeapi, custom, kube_client):
    _create_cluster(custom, "c1")
    client.ApiextensionsV1Api(kube_client).delete_custom_resource_definition("clusters.cluster.x-k8s.io")
    assert kubeapi.store.find_kind("cluster.x-k8s.io/v1beta2", "Cluster") is None
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(*CAPI, "default", "clusters")
    assert err.value.status == 404
    assert kubeapi.store.find_kind("cluster.x-k8s.io/v1beta2", "MachineDeployment") is not None


def test_owner_deletion_cascades_to_dependents_unless_orphaned(custom):
    owner = _create_cluster(custom, "c1")
    ref = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "name": "c1",
        "uid": owner["metadata"]["uid"],
    }
    for name in ("c1-md", "c1-md-orphan-test"):
        body = _cluster(name)
        body["metadata"]["ownerReferences"] = [ref]
        custom.create_namespaced_custom_object(*CAPI, "default", "clusters", body)
    _create_cluster(custom, "unrelated")

    custom.delete_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    names = [i["metadata"]["name"] for i in custom.list_namespaced_custom_object(*CAPI, "default", "clusters")["items"]]
    assert names == ["unrelated"]

    second = _create_cluster(custom, "c2")
    body = _cluster("c2-dependent")
    body["metadata"]["ownerReferences"] = [{**ref, "name": "c2", "uid": second["metadata"]["uid"]}]
    custom.create_namespaced_custom_object(*CAPI, "default", "clusters", body)
    custom.delete_namespaced_custom_object(
        *CAPI, "default", "clusters", "c2", body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    names = [i["metadata"]["name"] for i in custom.list_namespaced_custom_object(*CAPI, "default", "clusters")["items"]]
    assert names == ["c2-dependent", "unrelated"]


def test_set_status_helper_acts_like_a_controller(kubeapi, custom):
    created = _create_cluster(custom, "c1")
    kubeapi.set_status("cluster.x-k8s.io/v1beta2", "Cluster", "c1", "default", {"phase": "Provisioned"})
    read = custom.get_namespaced_custom_object(*CAPI, "default", "clusters", "c1")
    assert read["status"] == {"phase": "Provisioned"}
    assert read["metadata"]["generation"] == created["metadata"]["generation"]
    assert int(read["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
