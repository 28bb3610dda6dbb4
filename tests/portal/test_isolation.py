"""Tenant isolation over every URL pattern the project serves, for three personas.

Each URL is built from the resolver, so a new view is covered the moment it is routed (and the test fails if it
cannot fill in a URL parameter it does not know). The outsider must never see acme's object: a page that names
it answers 404 (or 403 for admin-only pages), and no page shows its name.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from migration.models import MigrationPlan
from portal import audit
from portal.models import ClusterRequest, KubernetesVersion, Membership, NodeGroup, VMRequest
from portal.states import State

from ..conftest import ED25519_KEY

SECRET_VM = "acme-secret-vm"
SECRET_CLUSTER = "acme-secret-k8s"
SKIP_PREFIXES = ("admin/", "static/", "__debug__")
# Pages any logged-in user may load (their content is still checked for acme's names).
# Pages only platform admins may open: forbidden (403) to everyone else, whatever the id.
ADMIN_ONLY_PREFIXES = ("approvals/", "audit/", "architecture/admin/")
PUBLIC_NAMES = {
    "healthz",
    "login",
    "logout",
    "api-schema",
    "api-docs",
    "api-redoc",
    "status-json",  # monitoring: statuses and summaries only, never names of tenants' objects
    "architecture:status-json",
}


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from walk(entry.url_patterns, route, f"{ns}:" if entry.namespace else namespace)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name or ''}", entry


def all_routes():
    routes = []
    for route, name, entry in walk(get_resolver().url_patterns):
        if route.startswith(SKIP_PREFIXES) or "format" in route:
            continue
        routes.append(pytest.param(route, name, entry, id=name or route))
    return routes


@pytest.fixture
def world(acme, globex, member, outsider, admin_user, template):
    network = acme.networks.get(name="default")
    vm = VMRequest.objects.create(
        tenant=acme,
        requested_by=member,
        name=SECRET_VM,
        template=template,
        sockets=1,
        cores=2,
        memory_mib=2048,
        disk_gib=20,
        network=network,
        ssh_keys=ED25519_KEY,
        state=State.READY,
    )
    version = KubernetesVersion.objects.get(is_default=True)
    cluster = ClusterRequest.objects.create(
        tenant=acme,
        requested_by=member,
        name=SECRET_CLUSTER,
        kubernetes_version=version,
        network=network,
        state=State.PENDING_APPROVAL,
    )
    NodeGroup.objects.create(cluster=cluster, name="md0", min_replicas=1, max_replicas=2)
    event = audit.record("submitted", vm, actor=member, reason=f"ordered {SECRET_VM}")
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="acme-secret-plan")
    return {
        "vm": vm,
        "cluster": cluster,
        "tenant": acme,
        "event": event,
        "plan": plan,
        "membership": Membership.objects.get(user=member, tenant=acme),
        "template": template,
    }


def fill(route: str, name: str, entry: URLPattern, world) -> tuple[str, bool]:
    """A concrete URL for the pattern, and whether it points at one of acme's objects."""
    obj = world["cluster"] if ("cluster" in name or "cluster" in route) else world["vm"]
    # Ids differ between tables (and, on PostgreSQL, between test runs): pick the object the route is about.
    for keyword, key in (("audit", "event"), ("memberships", "membership"), ("templates", "template")):
        if keyword in route:
            obj = world[key]
    if route.startswith("migration/"):
        obj = world["plan"]
    values = {
        "pk": str(obj.pk),
        "kind": getattr(obj, "kind", "vm"),
        "action": "start",
        "slug": world["tenant"].slug,
        "tenant": world["tenant"].slug,
        "name": "u1.medium",
        "version": "v1.33.4",
        "action_id": "1",
    }
    url = "/" + route
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)", route):
        key = match.group(2) or match.group(3)
        if key not in values:
            pytest.fail(f"test_isolation does not know how to fill <{key}> in {route!r}: add it to fill()")
        url = url.replace(match.group(0), values[key], 1)
    url = url.replace("^", "").replace("$", "")
    object_keys = {"pk", "slug", "tenant"}
    targets_object = any(f"<{k}>" in route or f":{k}>" in route or f"(?P<{k}>" in route for k in object_keys)
    if "catalog/" in route:
        targets_object = False  # the catalog is shared by every tenant
    return url, targets_object


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.mark.django_db
@pytest.mark.parametrize("route,name,entry", all_routes())
def test_no_view_leaks_another_tenants_objects(client, world, outsider, route, name, entry):
    url, targets_object = fill(route, name, entry, world)
    client.force_login(outsider)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        text = body(response)
        for secret in (SECRET_VM, SECRET_CLUSTER, "acme-secret-plan"):
            assert secret not in text, f"{method.upper()} {url} shows acme's object {secret}"
        if targets_object and name not in PUBLIC_NAMES:
            assert response.status_code in (403, 404, 405), f"{method.upper()} {url} answered {response.status_code}"
            if response.status_code == 403:
                # Forbidden pages must be admin-only pages, forbidden whatever the id.
                assert route.startswith(ADMIN_ONLY_PREFIXES), f"{url}: 403 where 404 was due"
    # Nothing the outsider sent changed acme's objects.
    world["vm"].refresh_from_db()
    world["cluster"].refresh_from_db()
    assert world["vm"].state == State.READY
    assert world["cluster"].state == State.PENDING_APPROVAL


@pytest.mark.django_db
@pytest.mark.parametrize("route,name,entry", all_routes())
def test_member_and_admin_reach_every_page(client, world, member, admin_user, route, name, entry):
    url, targets_object = fill(route, name, entry, world)
    for user in (member, admin_user):
        client.force_login(user)
        response = client.get(url)
        if route.startswith(ADMIN_ONLY_PREFIXES):
            expected = (200, 302, 405) if user.is_staff else (403, 405)
        else:
            expected = (200, 302, 405)
        if "kubeconfig" in route:
            expected += (409, 503)  # no management cluster in this test: a clear refusal, never a 500
        assert response.status_code in expected, f"{user} GET {url} answered {response.status_code}"


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, world):
    for route, name, entry in walk(get_resolver().url_patterns):
        if route.startswith(SKIP_PREFIXES) or name in PUBLIC_NAMES or "format" in route:
            continue
        url, _ = fill(route, name, entry, world)
        response = client.get(url)
        # A login redirect, or a refusal that says nothing about whether the object exists.
        assert response.status_code in (302, 401, 403, 404, 405), f"anonymous GET {url} answered {response.status_code}"
        assert SECRET_VM not in body(response)
