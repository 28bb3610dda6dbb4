"""Kubeconfig download and cluster changes (scale, upgrade) from the tenant's side."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse
from kubernetes import client as k8s

from portal.models import AuditEvent, AutoApprovalRule, ClusterChange, ClusterRequest, KubernetesVersion, NodeGroup
from portal.states import State

pytestmark = pytest.mark.django_db

KUBECONFIG = b"apiVersion: v1\nkind: Config\nclusters: []\n# tenant cluster credentials\n"


@pytest.fixture
def cluster(acme, member):
    cluster = ClusterRequest.objects.create(
        tenant=acme,
        requested_by=member,
        name="prod",
        kubernetes_version=KubernetesVersion.objects.get(version="v1.32.8"),
        network=acme.networks.get(name="default"),
        state=State.READY,
    )
    NodeGroup.objects.create(cluster=cluster, name="md0", min_replicas=1, max_replicas=2, cores=2, memory_mib=4096)
    return cluster


@pytest.fixture
def management(kubeapi, kube_client, settings, tmp_path):
    path = tmp_path / "kubeconfig"
    kubeapi.write_kubeconfig(str(path))
    settings.CAPI_KUBECONFIG = str(path)
    return k8s.CoreV1Api(kube_client)


def put_kubeconfig(core, namespace="tenant-acme", name="prod"):
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    core.create_namespaced_secret(
        namespace,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(name=f"{name}-kubeconfig"),
            data={"value": base64.b64encode(KUBECONFIG).decode()},
        ),
    )


def test_kubeconfig_access_control_and_audit(client, cluster, member, viewer, outsider, management):
    url = reverse("portal:cluster-kubeconfig", args=[cluster.pk])
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 302  # not there yet: a message on the cluster page, not an error
    put_kubeconfig(management)
    response = client.get(url)
    assert response.status_code == 200 and response.content == KUBECONFIG
    assert response["Cache-Control"] == "no-store" and "attachment" in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="kubeconfig.download")
    assert (event.actor, event.object_id) == (member, cluster.pk)
    assert b"tenant cluster credentials" not in str(event.__dict__).encode()
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="kubeconfig.download").count() == 1


def test_scale_within_footprint_applies_at_once(
    client, cluster, member, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("portal.changes.send", lambda name, *args: sent.append((name, args)))
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(
            reverse("portal:cluster-scale", args=[cluster.pk]), {"group": "md0", "min_replicas": 2, "max_replicas": 2}
        )
    change = ClusterChange.objects.get()
    assert change.state == ClusterChange.Decision.APPLIED
    cluster.refresh_from_db()
    group = cluster.node_groups.get()
    assert (group.min_replicas, group.max_replicas, group.replicas) == (2, 2, 2)
    assert cluster.state == State.PROVISIONING
    assert sent == []  # nothing is sent before the transaction commits
    for callback in callbacks:
        callback()
    assert sent == [("provisioning.tasks.apply_cluster_changes", (cluster.pk,))]


def test_growing_scale_waits_for_approval_then_applies(client, cluster, member, admin_user):
    client.force_login(member)
    client.post(
        reverse("portal:cluster-scale", args=[cluster.pk]), {"group": "md0", "min_replicas": 1, "max_replicas": 4}
    )
    change = ClusterChange.objects.get()
    assert change.state == ClusterChange.Decision.PENDING
    assert cluster.node_groups.get().max_replicas == 2 and ClusterRequest.objects.get().state == State.READY
    client.force_login(admin_user)
    assert "node group md0: 1–2 → 1–4 replicas" in client.get(reverse("portal:approvals")).content.decode()
    client.post(reverse("portal:change-decide", args=[change.pk, "approve"]))
    change.refresh_from_db()
    assert change.state == ClusterChange.Decision.APPLIED and change.decided_by == admin_user
    assert cluster.node_groups.get().max_replicas == 4
    assert ClusterRequest.objects.get().state == State.PROVISIONING


def test_scale_over_quota_is_refused(client, cluster, member, acme):
    acme.quota.vcpus = 6
    acme.quota.save()
    client.force_login(member)
    response = client.post(
        reverse("portal:cluster-scale", args=[cluster.pk]),
        {"group": "md0", "min_replicas": 1, "max_replicas": 9},
        follow=True,
    )
    assert "this order needs 14" in response.content.decode()
    assert not ClusterChange.objects.exists() and cluster.node_groups.get().max_replicas == 2


def test_auto_approval_rule_covers_a_small_growth(client, cluster, member, acme):
    AutoApprovalRule.objects.create(tenant=acme, name="clusters", kind="cluster", max_vcpus=4, require_below_warn=False)
    client.force_login(member)
    client.post(
        reverse("portal:cluster-scale", args=[cluster.pk]), {"group": "md0", "min_replicas": 1, "max_replicas": 3}
    )
    change = ClusterChange.objects.get()
    assert change.state == ClusterChange.Decision.APPLIED and change.reason == "Auto-approved by rule 'clusters'."


def test_version_change_and_rejection(client, cluster, member, admin_user, viewer):
    client.force_login(viewer)
    assert client.post(reverse("portal:cluster-upgrade", args=[cluster.pk]), {"version": "v1.33.4"}).status_code == 403
    client.force_login(member)
    client.post(reverse("portal:cluster-upgrade", args=[cluster.pk]), {"version": "v1.33.4"})
    cluster.refresh_from_db()
    assert cluster.kubernetes_version.version == "v1.33.4" and cluster.state == State.PROVISIONING
    actions = list(AuditEvent.objects.filter(object_id=cluster.pk).values_list("action", flat=True))
    assert "change.version.requested" in actions and "upgrade" in actions
    # A pending change rejected by an admin changes nothing.
    cluster.state = State.READY
    cluster.save()
    client.post(
        reverse("portal:cluster-scale", args=[cluster.pk]), {"group": "md0", "min_replicas": 1, "max_replicas": 5}
    )
    change = ClusterChange.objects.get(kind="scale")
    client.force_login(admin_user)
    client.post(reverse("portal:change-decide", args=[change.pk, "reject"]), {"reason": ""})
    assert ClusterChange.objects.get(pk=change.pk).state == ClusterChange.Decision.PENDING  # a reason is required
    client.post(reverse("portal:change-decide", args=[change.pk, "reject"]), {"reason": "not now"})
    assert ClusterChange.objects.get(pk=change.pk).state == ClusterChange.Decision.REJECTED
    assert cluster.node_groups.get().max_replicas == 2
