"""Tenant isolation: plans, their uploads and kubeconfigs are invisible to other tenants (404)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from migration import crypto
from migration.models import MigrationPlan
from migration.wizard import engine

pytestmark = pytest.mark.django_db
PLAN_VIEWS = ["plan", "source", "vms", "network", "storage", "target", "review", "submit", "download", "progress",
              "duplicate", "delete"]  # fmt: skip


@pytest.fixture
def secret_plan(acme, member, multi_vm_yaml):
    plan = MigrationPlan.objects.create(
        tenant=acme, owner=member, name="acme-secret-plan", kubeconfig_token=crypto.encrypt(b"token: sup3r")
    )
    engine.replace_source(plan, multi_vm_yaml, "upload", "Uploaded: acme-secret-file.yaml")
    return plan


@pytest.mark.parametrize("view", PLAN_VIEWS)
def test_other_tenant_gets_404_everywhere(client, outsider, secret_plan, view):
    client.force_login(outsider)
    url = reverse(f"migration:{view}", args=[secret_plan.pk])
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"
        assert b"acme-secret" not in response.content
    secret_plan.refresh_from_db()
    assert secret_plan.has_kubeconfig and secret_plan.status == "draft"


def test_plan_list_shows_only_own_tenant(client, outsider, member, secret_plan):
    client.force_login(outsider)
    assert b"acme-secret" not in client.get("/migration/").content
    client.force_login(member)
    assert b"acme-secret-plan" in client.get("/migration/").content


def test_viewer_may_look_but_not_change(client, viewer, secret_plan):
    client.force_login(viewer)
    assert client.get(reverse("migration:vms", args=[secret_plan.pk])).status_code == 200
    response = client.post(reverse("migration:source", args=[secret_plan.pk]) + "?action=forget")
    assert response.status_code == 403
    assert client.post(reverse("migration:delete", args=[secret_plan.pk])).status_code == 403
    secret_plan.refresh_from_db()
    assert secret_plan.has_kubeconfig


def test_kubeconfig_is_never_rendered(client, member, secret_plan):
    client.force_login(member)
    for view in ("source", "vms"):
        body = client.get(reverse(f"migration:{view}", args=[secret_plan.pk])).content
        assert b"sup3r" not in body and secret_plan.kubeconfig_token.encode() not in body
    api = client.get(f"/migration/api/plans/{secret_plan.pk}/").json()
    assert api["has_kubeconfig"] is True and "kubeconfig_token" not in api and "sup3r" not in str(api)


def test_plan_create_refuses_other_tenants(client, member, globex):
    client.force_login(member)
    response = client.post("/migration/new/", {"name": "x", "tenant": globex.slug})
    assert response.status_code == 422 and not MigrationPlan.objects.exists()
