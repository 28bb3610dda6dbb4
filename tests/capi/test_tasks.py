"""The cluster task bodies against the fake management cluster + fake controllers + fakepve (the demo flow)."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from portal.models import AuditEvent
from portal.states import State
from provisioning.capi import tasks_impl
from provisioning.capi.kubeconfig import fetch_kubeconfig
from provisioning.capi.reconciler import FakeCapiReconciler


def vms_named(pve, prefix):
    return [vm for vm in pve.vms if str(vm.name or "").startswith(prefix)]


def run_until(kube_client, request, state, passes=20):
    reconciler = FakeCapiReconciler(kube_client)
    for _ in range(passes):
        reconciler.reconcile_once()
        tasks_impl.sync_clusters(api_client=kube_client)
        request.refresh_from_db()
        if request.state == state:
            return request
    raise AssertionError(f"request stayed {request.state}: {request.status_detail.get('status')}")


def test_order_approve_and_watch_it_come_up(cluster_order, kubeapi, kube_client, pve):
    request = cluster_order()
    assert tasks_impl.provision_cluster(request.pk, api_client=kube_client) == "applied 7 objects"
    request.refresh_from_db()
    assert request.state == State.PROVISIONING
    assert request.status_detail["vmid_range"] == [100000, 100099]
    assert ["Cluster", "demo"] in request.status_detail["applied"]["objects"]

    tasks_impl.sync_clusters(api_client=kube_client)
    request.refresh_from_db()
    pipeline = request.status_detail["status"]["pipeline"]
    assert [step["key"] for step in pipeline] == ["infrastructure", "control_plane", "workers"]
    assert request.last_synced_at is not None

    request = run_until(kube_client, request, State.READY)
    status = request.status_detail["status"]
    assert status["overall"] == "ready" and len(status["machines"]) == 2
    assert len(vms_named(pve, "demo-md0-")) == 2
    assert fetch_kubeconfig(kube_client, "tenant-acme", "demo") is not None
    # The kubeconfig is never copied into the portal's database.
    assert "kubeconfig" not in str(request.status_detail).lower()
    actions = set(AuditEvent.objects.filter(object_id=request.pk).values_list("action", flat=True))
    assert {"provisioning", "cluster.applied", "ready"} <= actions


def test_scale_then_delete_releases_everything(cluster_order, kubeapi, kube_client, pve):
    request = cluster_order()
    tasks_impl.provision_cluster(request.pk, api_client=kube_client)
    request = run_until(kube_client, request, State.READY)

    group = request.node_groups.get()
    group.replicas = 3  # the portal changed it after quota/approval
    group.save()
    assert tasks_impl.apply_cluster_changes(request.pk, api_client=kube_client).startswith("applied")
    request.refresh_from_db()
    assert request.state == State.PROVISIONING
    request = run_until(kube_client, request, State.READY)
    assert len(vms_named(pve, "demo-md0-")) == 3

    from portal.lifecycle import transition

    transition(request, State.DELETING, system_actor="test")
    assert tasks_impl.delete_cluster(request.pk, api_client=kube_client) == "deletion requested"
    request = run_until(kube_client, request, State.DELETED)
    assert vms_named(pve, "demo-") == []
    leftovers = k8s.CustomObjectsApi(kube_client).list_cluster_custom_object(
        "infrastructure.cluster.x-k8s.io", "v1alpha2", "proxmoxmachinetemplates"
    )["items"]
    assert leftovers == []


def test_invalid_request_fails_with_a_reason(cluster_order, kubeapi, kube_client):
    request = cluster_order()
    request.network.gateway = None
    request.network.save()
    assert tasks_impl.provision_cluster(request.pk, api_client=kube_client) == "failed"
    request.refresh_from_db()
    assert request.state == State.FAILED and "no DHCP" in request.reason


def test_unreachable_management_cluster_is_retryable(cluster_order):
    request = cluster_order()
    configuration = k8s.Configuration()
    configuration.host = "http://127.0.0.1:9"  # nothing listens on the discard port
    configuration.retries = 0
    with pytest.raises(tasks_impl.RetryableClusterError):
        tasks_impl.provision_cluster(request.pk, api_client=k8s.ApiClient(configuration))
    request.refresh_from_db()
    assert request.state == State.PROVISIONING  # the wrapper retries; fail_cluster gives up later
    tasks_impl.fail_cluster(request.pk, "management cluster unreachable")
    request.refresh_from_db()
    assert request.state == State.FAILED


def test_requests_in_other_states_are_left_alone(cluster_order, kube_client):
    request = cluster_order(state=State.PENDING_APPROVAL)
    assert tasks_impl.provision_cluster(request.pk, api_client=kube_client).startswith("skipped")
    assert tasks_impl.delete_cluster(request.pk, api_client=kube_client).startswith("skipped")


def test_helpers_for_the_cluster_page(cluster_order, kubeapi, kube_client, pve):
    request = cluster_order()
    assert tasks_impl.status_for(request) is None
    assert tasks_impl.kubeconfig_for(request, api_client=kube_client) is None
    manifests = tasks_impl.manifests_for(request)
    assert "kind: MachineDeployment" in manifests and "kind: Secret" not in manifests
    tasks_impl.provision_cluster(request.pk, api_client=kube_client)
    request = run_until(kube_client, request, State.READY)
    status = tasks_impl.status_for(request)
    assert status.overall == "ready" and [s.state for s in status.pipeline] == ["ready"] * 3
    kubeconfig = tasks_impl.kubeconfig_for(request, api_client=kube_client)
    assert kubeconfig.startswith(b"apiVersion: v1")


def unreachable_client():
    configuration = k8s.Configuration()
    configuration.host = "http://127.0.0.1:9"
    configuration.retries = 0
    return k8s.ApiClient(configuration)


def test_sync_keeps_the_last_status_when_the_management_cluster_is_down(cluster_order, kubeapi, kube_client, pve):
    request = cluster_order()
    tasks_impl.provision_cluster(request.pk, api_client=kube_client)
    tasks_impl.sync_clusters(api_client=kube_client)
    request.refresh_from_db()
    before = request.status_detail["status"]
    assert tasks_impl.sync_clusters(api_client=unreachable_client())["errors"] == 1
    request.refresh_from_db()
    assert request.status_detail["status"] == before and request.state == State.PROVISIONING


def test_sync_reissues_a_lost_delete(cluster_order, kubeapi, kube_client, pve):
    from portal.lifecycle import transition

    request = cluster_order()
    tasks_impl.provision_cluster(request.pk, api_client=kube_client)
    transition(request, State.DELETING, system_actor="test")  # ... and the delete_cluster task never ran
    request = run_until(kube_client, request, State.DELETED)
    assert vms_named(pve, "demo-") == []


def test_periodic_sync_of_ready_clusters_is_one_list_per_kind(cluster_order, kubeapi, kube_client, pve, monkeypatch):
    request = cluster_order()
    tasks_impl.provision_cluster(request.pk, api_client=kube_client)
    run_until(kube_client, request, State.READY)
    second = cluster_order(name="second", groups=(("md0", 1),))
    tasks_impl.provision_cluster(second.pk, api_client=kube_client)
    run_until(kube_client, second, State.READY)

    calls = []
    original = kube_client.call_api

    def counting(resource_path, method, *args, **kwargs):
        calls.append(method)
        return original(resource_path, method, *args, **kwargs)

    monkeypatch.setattr(kube_client, "call_api", counting)
    assert tasks_impl.sync_clusters(api_client=kube_client)["synced"] == 2
    assert (
        calls == ["GET"] * 6
    )  # Cluster, ProxmoxCluster, KamajiControlPlane, MachineDeployment, Machine, ProxmoxMachine


def test_unreadable_ca_bundle_fails_the_request(cluster_order, kubeapi, kube_client, pve_endpoint):
    pve_endpoint.ca_bundle = "/nonexistent/ca.pem"
    pve_endpoint.save()
    request = cluster_order()
    assert tasks_impl.provision_cluster(request.pk, api_client=kube_client) == "failed"
    request.refresh_from_db()
    assert request.state == State.FAILED and "/nonexistent/ca.pem" in request.reason


def test_missing_management_kubeconfig_is_retryable(cluster_order, settings):
    settings.CAPI_KUBECONFIG = "/nonexistent/kubeconfig"
    request = cluster_order()
    with pytest.raises(tasks_impl.RetryableClusterError, match="kubeconfig unusable"):
        tasks_impl.provision_cluster(request.pk)
