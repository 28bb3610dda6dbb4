"""The REST API mirrors the browser: same validation, same scoping, same workflow."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal.models import AuditEvent, ClusterRequest, VMRequest
from portal.states import State

from ..conftest import ED25519_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def order(acme, template, **overrides):
    data = {
        "tenant": "acme",
        "name": "api-vm",
        "template": template.pk,
        "instance_type": "u1.small",
        "disk_gib": 20,
        "network": acme.networks.get(name="default").pk,
        "ssh_keys": ED25519_KEY,
    }
    data.update(overrides)
    return data


def test_token_auth_order_and_read_back(api, member, acme, template):
    token = Token.objects.create(user=member)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.post("/api/vms/", order(acme, template), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == State.PENDING_APPROVAL and body["state_colour"] == "amber" and not body["is_final"]
    assert (body["vcpus"], body["memory_mib"], body["template"]) == (1, 2048, "ubuntu-24.04")
    assert VMRequest.objects.get().origin == "api"
    listing = api.get("/api/vms/").json()
    assert [row["name"] for row in listing["results"]] == ["api-vm"]
    assert api.get("/api/tenants/acme/").json()["usage"]["vcpus"] == 1


def test_api_validation_errors_are_per_field_and_save_nothing(api, member, acme, globex, template):
    api.force_authenticate(member)
    foreign_network = globex.networks.get().pk
    response = api.post(
        "/api/vms/",
        order(acme, template, name="Bad!", ssh_keys="nope", network=foreign_network, instance_type="x9.huge"),
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {"name", "ssh_keys", "network", "instance_type"}
    assert "does not belong to this tenant" in errors["network"][0]
    assert not VMRequest.objects.exists() and not AuditEvent.objects.exists()


def test_api_cannot_order_for_another_tenant(api, outsider, acme, template):
    api.force_authenticate(outsider)
    response = api.post("/api/vms/", order(acme, template), format="json")
    assert response.status_code == 400 and "tenant" in response.json()
    assert not VMRequest.objects.exists()


def test_viewer_gets_403_on_order(api, viewer, acme, template):
    api.force_authenticate(viewer)
    assert api.post("/api/vms/", order(acme, template), format="json").status_code == 403


def test_approve_reject_cancel_over_the_api(api, member, admin_user, outsider, acme, template):
    api.force_authenticate(member)
    first = api.post("/api/vms/", order(acme, template, name="one"), format="json").json()
    second = api.post("/api/vms/", order(acme, template, name="two"), format="json").json()
    third = api.post("/api/vms/", order(acme, template, name="three"), format="json").json()
    assert api.post(f"/api/vms/{first['id']}/approve/").status_code == 403  # members cannot approve
    api.force_authenticate(outsider)
    assert api.post(f"/api/vms/{first['id']}/approve/").status_code == 404  # others do not see it
    assert api.get(f"/api/vms/{first['id']}/").status_code == 404
    api.force_authenticate(admin_user)
    assert api.post(f"/api/vms/{first['id']}/approve/", {"reason": "ok"}).json()["state"] == State.APPROVED
    assert api.post(f"/api/vms/{first['id']}/approve/").status_code == 409  # never twice
    assert api.post(f"/api/vms/{second['id']}/reject/", {}).status_code == 400
    rejected = api.post(f"/api/vms/{second['id']}/reject/", {"reason": "no room"}).json()
    assert (rejected["state"], rejected["reason"]) == (State.REJECTED, "no room")
    api.force_authenticate(member)
    assert api.post(f"/api/vms/{third['id']}/cancel/").json()["state"] == State.CANCELLED
    events = api.get("/api/audit/", {"object_id": second["id"], "object_type": "vm"}).json()["results"]
    assert {e["action"] for e in events} == {"submitted", "rejected"}


def test_cluster_order_over_the_api(api, member, acme):
    api.force_authenticate(member)
    body = {
        "tenant": "acme",
        "name": "k8s",
        "kubernetes_version": "v1.33.4",
        "network": acme.networks.get().pk,
        "addons": {"cert_manager": True},
        "node_groups": [{"name": "md0", "min_replicas": 1, "max_replicas": 2, "instance_type": "u1.medium"}],
    }
    response = api.post("/api/clusters/", body, format="json")
    assert response.status_code == 201, response.json()
    cluster = ClusterRequest.objects.get()
    assert cluster.addons["cert_manager"] is True and cluster.node_groups.get().max_replicas == 2
    bad = dict(body, name="k9", node_groups=[{"name": "md0", "min_replicas": 3, "max_replicas": 1}])
    response = api.post("/api/clusters/", bad, format="json")
    assert response.status_code == 400 and "node_groups" in response.json()
    bad = dict(body, name="k10", kubernetes_version="v1.0.0")
    assert "kubernetes_version" in api.post("/api/clusters/", bad, format="json").json()
    assert ClusterRequest.objects.count() == 1


def test_catalog_and_openapi_schema(api, member, client):
    api.force_authenticate(member)
    names = [row["name"] for row in api.get("/api/catalog/instance-types/").json()["results"]]
    assert "u1.medium" in names and "u1.8xlarge" in names
    assert (
        api.post("/api/catalog/instance-types/", {"name": "x1.big", "vcpus": 1, "memory_mib": 1024}).status_code == 403
    )
    client.force_login(member)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/vms/{id}/approve/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
