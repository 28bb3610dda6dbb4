"""Status checks against fakepve and the fake Kubernetes API, the status page and /status.json."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from architecture import checks
from architecture.models import Heartbeat

from .conftest import capmox_deployment, proxmox_cluster

pytestmark = pytest.mark.usefixtures("status_cache")


def by_name(results):
    return {r.name: r for r in results}


# --- Proxmox ------------------------------------------------------------------------------------------------


def test_proxmox_endpoint_healthy(pve_endpoint):
    outcome = checks.check_proxmox_endpoint(pve_endpoint)
    assert outcome.status == checks.OK, outcome
    assert outcome.details["quorum"] is True
    assert [(n["name"], n["status"]) for n in outcome.details["nodes"]] == [("pve1", "online"), ("pve2", "online")]
    node = outcome.details["nodes"][0]
    assert node["maxcpu"] == 4 and node["mem_pct"] == 25.0 and node["uptime"] == 3600
    # ceph-vm is shared: counted once; local and local-lvm once per node.
    names = sorted(s["name"] for s in outcome.details["storages"])
    assert names == ["ceph-vm", "pve1/local", "pve1/local-lvm", "pve2/local", "pve2/local-lvm"]
    assert outcome.details["templates"] == ["debian-12-cloudinit", "talos-1.10", "ubuntu-24.04-cloudinit"]
    assert outcome.summary.startswith("quorate, 2/2 nodes online, 5 storages, 3 templates")
    assert outcome.error == ""


def test_node_offline_is_degraded_and_named_in_details(pve, pve_endpoint):
    pve.set_node_offline("pve2")
    outcome = checks.check_proxmox_endpoint(pve_endpoint)
    assert outcome.status == checks.DEGRADED
    assert "1 of 2 nodes offline" in outcome.summary
    assert "pve2" not in outcome.summary  # summaries go to the public status.json
    nodes = {n["name"]: n for n in outcome.details["nodes"]}
    assert nodes["pve2"]["status"] == "offline" and nodes["pve2"]["cpu_pct"] is None
    assert nodes["pve1"]["status"] == "online"


def test_a_500_on_one_call_is_shown_not_swallowed(pve, pve_endpoint):
    pve.fail("GET", "/cluster/resources", 500, "storage backend exploded")
    outcome = checks.check_proxmox_endpoint(pve_endpoint)
    assert outcome.status == checks.DEGRADED
    assert "API calls failed" in outcome.summary
    assert "storage backend exploded" in outcome.error
    assert any(e.startswith("storage:") and "exploded" in e for e in outcome.details["errors"])


def test_a_500_on_nodes_is_down_with_the_error(pve, pve_endpoint):
    pve.fail("GET", "/nodes", 500, "pveproxy is broken")
    outcome = checks.check_proxmox_endpoint(pve_endpoint)
    assert outcome.status == checks.DOWN
    assert "does not answer" in outcome.summary
    assert "pveproxy is broken" in outcome.error


def test_stopped_proxmox_is_down(pve, pve_endpoint):
    results = by_name(checks.run_group("proxmox", use_cache=False))
    assert results["proxmox:demo"].status == checks.OK
    pve_endpoint.api_url = "https://127.0.0.1:9"  # nothing listens there
    pve_endpoint.save()
    result = by_name(checks.run_group("proxmox", use_cache=False))["proxmox:demo"]
    assert result.status == checks.DOWN
    assert result.error


def test_no_endpoint_is_unknown(db):
    [result] = checks.run_group("proxmox", use_cache=False)
    assert result.status == checks.UNKNOWN and "No Proxmox endpoint" in result.summary


# --- runner -------------------------------------------------------------------------------------------------


def test_checks_run_in_parallel_with_a_timeout():
    def slow():
        time.sleep(2)
        return checks.Outcome(checks.OK, "late")

    def fast():
        return checks.Outcome(checks.OK, "quick")

    def broken():
        raise RuntimeError("kaputt")

    started = time.monotonic()
    results = by_name(
        checks.run_checks(
            [
                checks.Check("a", "portal", "Slow one", slow),
                checks.Check("b", "portal", "Slow two", slow),
                checks.Check("c", "portal", "Fast", fast),
                checks.Check("d", "portal", "Broken", broken),
            ],
            timeout=0.5,
        )
    )
    assert time.monotonic() - started < 1.5  # neither waited for the slow checks nor ran them one by one
    assert results["a"].status == results["b"].status == checks.DOWN
    assert results["a"].summary == "Slow one: timed out after 0.5 s"
    assert results["c"].status == checks.OK and results["c"].summary == "quick"
    assert results["d"].status == checks.DOWN and "RuntimeError: kaputt" in results["d"].error


def test_overall_state():
    def result(name, group, status):
        return checks.CheckResult(name, group, name, status, "")

    ok = [result("portal:database", "portal", "ok"), result("proxmox:a", "proxmox", "ok")]
    assert checks.overall(ok) == "ok"
    assert checks.overall([*ok, result("cluster:crds", "cluster", "unknown")]) == "ok"
    assert checks.overall([*ok, result("cluster:crds", "cluster", "down")]) == "degraded"
    assert checks.overall([result("portal:database", "portal", "ok"), result("proxmox:a", "proxmox", "down")]) == "down"
    assert checks.overall([result("portal:database", "portal", "down"), result("proxmox:a", "proxmox", "ok")]) == "down"


# --- management cluster -------------------------------------------------------------------------------------


def test_cluster_checks_unknown_without_kubeconfig(db, settings):
    settings.CAPI_KUBECONFIG = ""
    results = checks.run_group("cluster", use_cache=False)
    assert {r.status for r in results} == {checks.UNKNOWN}
    assert "CAPI_KUBECONFIG" in results[0].summary


def test_all_crds_present_with_served_versions(db, management_cluster):
    management_cluster()
    outcome = checks._kube_check(checks.check_crds)()
    assert outcome.status == checks.OK, outcome
    providers = {p["provider"]: p for p in outcome.details["providers"]}
    assert set(providers) == {"CAPI", "capmox", "Kamaji", "IPAM"}
    capmox = {c["name"]: c for c in providers["capmox"]["crds"]}
    assert capmox["proxmoxclusters.infrastructure.cluster.x-k8s.io"]["versions"] == ["v1alpha2"]


def test_missing_crd_is_down_and_named(db, management_cluster):
    management_cluster(providers=("CAPI", "capmox", "Kamaji"))  # no IPAM provider
    outcome = checks._kube_check(checks.check_crds)()
    assert outcome.status == checks.DOWN
    assert "IPAM" in outcome.summary
    assert "inclusterippools.ipam.cluster.x-k8s.io" in outcome.details["missing"]
    assert not any(name.startswith("proxmox") for name in outcome.details["missing"])


def test_proxmox_cluster_not_available_shows_reason(db, management_cluster):
    management_cluster(
        objects=[
            proxmox_cluster("web", True, "Provisioned"),
            proxmox_cluster("db", False, "CredentialsNotFound", "secret capmox-pve-credentials not found"),
            proxmox_cluster("new", False, "MissingControlPlaneEndpoint", namespace="tenant-globex"),
        ]
    )
    outcome = checks._kube_check(checks.check_proxmox_clusters)()
    assert outcome.status == checks.DEGRADED
    assert outcome.summary == (
        "2 of 3 ProxmoxClusters not available (CredentialsNotFound, MissingControlPlaneEndpoint)"
    )
    rows = {r["name"]: r for r in outcome.details["clusters"]}
    assert rows["tenant-acme/db"]["reason"] == "CredentialsNotFound"
    assert "capmox-pve-credentials" in rows["tenant-acme/db"]["message"]
    assert rows["tenant-acme/web"]["available"] == "True"


def test_proxmox_cluster_kind_missing_is_down(db, management_cluster):
    management_cluster(providers=("CAPI",))
    assert checks._kube_check(checks.check_proxmox_clusters)().status == checks.DOWN


def test_capmox_controller_ready_or_not(db, management_cluster):
    management_cluster(objects=[capmox_deployment(ready=1)])
    ready = checks._kube_check(checks.check_capmox_controller)()
    assert ready.status == checks.OK and "1/1" in ready.summary
    management_cluster(objects=[capmox_deployment(ready=0, replicas=2)])
    not_ready = checks._kube_check(checks.check_capmox_controller)()
    assert not_ready.status == checks.DOWN and "0/2" in not_ready.summary
    management_cluster(objects=[])
    assert "not found" in checks._kube_check(checks.check_capmox_controller)().summary


def helmrelease(name: str, namespace: str, ready: bool, message: str = "") -> dict:
    status = "True" if ready else "False"
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"chart": {"spec": {"chart": f"cozy-{name}"}}},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": status,
                    "reason": "x",
                    "message": message,
                    "lastTransitionTime": "2026-11-26T00:00:00Z",
                },
                {
                    "type": "Released",
                    "status": status,
                    "reason": "x",
                    "message": message,
                    "lastTransitionTime": "2026-11-26T00:00:00Z",
                },
            ]
        },
    }


def test_helmreleases_of_the_bundle_and_component_states(db, management_cluster):
    management_cluster(
        objects=[
            helmrelease("cilium", "cozy-cilium", True),
            helmrelease("kamaji", "cozy-kamaji", False, "install retries exhausted"),
            helmrelease("unrelated", "default", True),
        ]
    )
    results = by_name(checks.run_group("cluster", use_cache=False))
    flux = results["cluster:helmreleases"]
    assert flux.status == checks.DEGRADED
    assert flux.summary.startswith("1/")
    rows = {r["component"]: r for r in flux.details["releases"]}
    assert rows["kamaji"]["ready"] == "False" and "retries exhausted" in rows["kamaji"]["message"]
    assert rows["cilium"]["state"] == "ok"
    assert rows["linstor"]["state"] == "missing"
    assert "unrelated" not in rows
    states = checks.cached_component_states()  # what the stack page and the graph colour
    assert states["cilium"] == "ok" and states["kamaji"] == "down"


def test_no_flux_is_unknown(db, management_cluster):
    management_cluster(providers=("CAPI", "capmox"))
    assert checks._kube_check(checks.check_helmreleases)().status == checks.UNKNOWN
    assert checks.cached_component_states() == {}


# --- portal -------------------------------------------------------------------------------------------------


def test_portal_checks(db, settings, acme, member, template):
    from portal.models import VMRequest
    from portal.states import State

    network = acme.networks.get()
    VMRequest.objects.create(
        tenant=acme,
        requested_by=member,
        name="a",
        template=template,
        memory_mib=1024,
        disk_gib=10,
        network=network,
        state=State.FAILED,
    )
    old = VMRequest.objects.create(
        tenant=acme,
        requested_by=member,
        name="b",
        template=template,
        memory_mib=1024,
        disk_gib=10,
        network=network,
        state=State.PENDING_APPROVAL,
    )
    VMRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    results = by_name(checks.run_group("portal", use_cache=False))
    assert results["portal:database"].status == checks.OK
    assert results["portal:broker"].status == checks.OK  # the test broker is memory://
    assert results["portal:worker"].status == checks.DOWN and "no worker heartbeat" in results["portal:worker"].summary
    assert results["portal:approvals"].summary == "1 requests waiting for approval, 1 older than 24 h"
    assert results["portal:approvals"].status == checks.DEGRADED
    assert results["portal:failed"].summary == "1 failed requests (1 in the last 24 h)"
    assert results["portal:status-sync"].status == checks.UNKNOWN


def test_worker_heartbeat(db):
    from architecture.tasks import heartbeat

    heartbeat.apply()  # what beat schedules every 30 s
    outcome = checks.check_worker()
    assert outcome.status == checks.OK and outcome.details["hostname"]
    Heartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    outcome = checks.check_worker()
    assert outcome.status == checks.DOWN and "10 min ago" in outcome.summary


def test_broker_unreachable_is_down():
    def unreachable():
        return checks.check_broker(timeout=1, url="redis://127.0.0.1:9/0")  # nothing listens on port 9

    [result] = checks.run_checks([checks.Check("portal:broker", "portal", "Broker", unreachable)], timeout=5)
    assert result.status == checks.DOWN and result.error


# --- pages and JSON -----------------------------------------------------------------------------------------


def test_status_page_renders_placeholders_without_running_checks(client, member, monkeypatch):
    def explode(*args, **kwargs):
        raise AssertionError("the page must not wait for the checks")

    monkeypatch.setattr(checks, "run_checks", explode)
    client.force_login(member)
    response = client.get("/architecture/status/")
    assert response.status_code == 200
    text = response.content.decode()
    for group in ("proxmox", "cluster", "portal"):
        assert f'hx-get="/architecture/status/{group}/"' in text
    assert text.count('hx-trigger="load"') == 3


def test_status_group_details_for_staff_summary_for_tenants(client, pve, pve_endpoint, member, admin_user):
    pve.set_node_offline("pve2")
    client.force_login(admin_user)
    staff = client.get("/architecture/status/proxmox/").content.decode()
    assert "pve2" in staff and "offline" in staff and "ceph-vm" in staff
    assert 'data-status="degraded"' in staff
    client.force_login(member)
    tenant = client.get("/architecture/status/proxmox/").content.decode()
    assert 'data-status="degraded"' in tenant
    assert "pve2" not in tenant and "ceph-vm" not in tenant and pve.url not in tenant


def test_status_json_public_summary_and_staff_details(client, pve, pve_endpoint, admin_user, settings):
    settings.CAPI_KUBECONFIG = ""
    pve.set_node_offline("pve2")
    response = client.get("/architecture/status.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["status"] == "degraded"
    assert set(doc["groups"]) == {"proxmox", "cluster", "portal"}
    proxmox = doc["groups"]["proxmox"]
    assert proxmox["status"] == "degraded" and proxmox["counts"]["degraded"] == 1
    [check] = proxmox["checks"]
    assert check["name"] == "proxmox:demo" and "1 of 2 nodes offline" in check["summary"]
    assert "details" not in check and "error" not in check
    raw = response.content.decode()
    assert "pve2" not in raw and "127.0.0.1" not in raw and "secret" not in raw.lower()

    client.force_login(admin_user)
    detailed = client.get("/architecture/status.json").json()
    nodes = detailed["groups"]["proxmox"]["checks"][0]["details"]["nodes"]
    assert {n["name"]: n["status"] for n in nodes} == {"pve1": "online", "pve2": "offline"}


def test_status_json_strict_answers_503_when_down(client, pve, pve_endpoint):
    pve_endpoint.api_url = "https://127.0.0.1:9"
    pve_endpoint.save()
    assert client.get("/architecture/status.json").json()["status"] == "down"
    assert client.get("/architecture/status.json?strict=1").status_code == 503


def test_status_results_are_cached(client, pve, pve_endpoint, admin_user):
    client.force_login(admin_user)
    client.get("/architecture/status/proxmox/")
    calls = len(pve.requests)
    client.get("/architecture/status/proxmox/")
    assert len(pve.requests) == calls  # served from the cache
    client.get("/architecture/status/proxmox/?refresh=1")  # staff may force a fresh check
    assert len(pve.requests) > calls
    cached = json.dumps(checks.cache.get(checks.CACHE_PREFIX + "proxmox"))
    assert checks.cache.get(checks.CACHE_PREFIX + "proxmox") and "11111111-2222" not in cached


def test_all_groups_run_together_with_one_deadline(db, monkeypatch, settings):
    settings.STATUS_CHECK_TIMEOUT = 0.5

    def slow():
        time.sleep(2)
        return checks.Outcome(checks.OK, "late")

    for group in ("proxmox", "cluster", "portal"):
        monkeypatch.setitem(checks.BUILDERS, group, lambda g=group: [checks.Check(f"{g}:slow", g, "Slow", slow)])
    started = time.monotonic()
    results = checks.run_all(use_cache=False)
    assert time.monotonic() - started < 1.4  # one deadline for all three groups, not three in a row
    assert {g: [r.status for r in rs] for g, rs in results.items()} == {
        "proxmox": ["down"],
        "cluster": ["down"],
        "portal": ["down"],
    }
    assert checks.run_all()["portal"][0].summary == "Slow: timed out after 0.5 s"  # cached
