"""List and detail pages run a constant number of SQL queries, whatever the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal import audit
from portal.models import ClusterRequest, KubernetesVersion, NodeGroup, VMRequest
from portal.states import State

pytestmark = pytest.mark.django_db

STATES = [State.PENDING_APPROVAL, State.READY, State.PROVISIONING, State.FAILED]


def seed(acme, member, template, count: int):
    network = acme.networks.get(name="default")
    version = KubernetesVersion.objects.get(is_default=True)
    existing = VMRequest.objects.count()
    vms = VMRequest.objects.bulk_create(
        VMRequest(
            tenant=acme,
            requested_by=member,
            name=f"vm-{existing + i}",
            template=template,
            sockets=1,
            cores=1,
            memory_mib=1024,
            disk_gib=10,
            network=network,
            state=STATES[i % len(STATES)],
        )
        for i in range(count)
    )
    clusters = ClusterRequest.objects.bulk_create(
        ClusterRequest(
            tenant=acme,
            requested_by=member,
            name=f"k-{existing + i}",
            kubernetes_version=version,
            network=network,
            state=STATES[i % len(STATES)],
        )
        for i in range(count)
    )
    NodeGroup.objects.bulk_create(NodeGroup(cluster=c, name="md0") for c in clusters)
    for vm in vms[:count]:
        audit.record("note", vm, actor=member)
    return vms[0], clusters[0]


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url_name,user",
    [
        ("portal:vm-list", "member"),
        ("portal:cluster-list", "member"),
        ("portal:dashboard", "member"),
        ("portal:approvals", "admin"),
        ("portal:audit", "admin"),
        ("vm-detail", "member"),
        ("vm-history", "member"),
        ("cluster-detail", "member"),
        ("api:vmrequest-list", "member"),
        ("api:clusterrequest-list", "member"),
        ("api:tenant-list", "member"),
        ("api:auditevent-list", "admin"),
    ],
)
def test_constant_queries_at_10_and_200_rows(client, acme, member, admin_user, template, url_name, user):
    client.force_login(member if user == "member" else admin_user)
    counts = []
    for total in (10, 200):
        vm, cluster = seed(acme, member, template, total - VMRequest.objects.count())
        if url_name in ("vm-detail", "vm-history", "cluster-detail"):
            target = cluster if url_name.startswith("cluster") else vm
            url = reverse(f"portal:{url_name}", args=[target.pk])
        else:
            url = reverse(url_name)
        count_queries(client, url)  # warm caches (content types, permissions)
        counts.append(count_queries(client, url))
    assert counts[0] == counts[1], f"{url_name}: {counts[0]} queries at 10 rows, {counts[1]} at 200"
