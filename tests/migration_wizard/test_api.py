"""REST API: create a plan from YAML, set maps, review, submit; OpenAPI documents it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from migration.models import MigrationPlan
from portal.models import Origin, VMRequest
from portal.states import State

from ..conftest import ED25519_KEY

pytestmark = pytest.mark.django_db
BASE = "/migration/api/plans/"


@pytest.fixture
def api(member):
    client = APIClient()
    client.force_authenticate(member)
    return client


def test_create_map_review_submit(api, acme, template, multi_vm_yaml):
    response = api.post(BASE, {"name": "api-plan", "tenant": "acme", "yaml": multi_vm_yaml}, format="json")
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert [i["key"] for i in plan["items"]] == ["shop/db", "shop/gpu", "shop/web"]
    steps = {s["key"]: s for s in plan["steps"]}
    assert steps["vms"]["errors"] == ["shop/gpu has 1 Critical concern(s): deselect it or accept the risk."]
    assert steps["network"]["locked"]
    url = f"{BASE}{plan['id']}/"
    network = acme.networks.get()
    body = {
        "selection": {"shop/gpu": {"selected": False}, "shop/web": {"target_name": "api-web"}},
        "network": {"pod": network.pk, "shop/lan": network.pk},
        "storage": {"fast": "local-lvm"},
        "templates": {"https://images.example/debian.qcow2": template.pk},
        "target": {"ssh_keys": ED25519_KEY},
    }
    response = api.post(url + "mappings/", body, format="json")
    assert response.status_code == 200, response.json()
    assert all(not s["errors"] for s in response.json()["steps"])
    review = api.get(url + "review/").json()
    assert review["ready"] is True
    web = next(v for v in review["vms"] if v["key"] == "shop/web")
    assert web["proxmox"]["config"]["net0"].startswith("virtio") and "vmbr0" in web["proxmox"]["config"]["net0"]
    assert "+" in web["diff"] and "local-lvm" in str(web["disks"])
    assert {q["key"] for q in review["quota"]} >= {"vcpus", "memory_gib"}
    response = api.post(url + "submit/")
    assert response.status_code == 201, response.json()
    vms = VMRequest.objects.filter(pk__in=response.json()["vmRequests"])
    assert sorted(v.name for v in vms) == ["api-web", "db"]
    assert all(v.origin == Origin.MIGRATION and v.state == State.PENDING_APPROVAL for v in vms)
    assert api.post(url + "submit/").status_code == 400  # only once


def test_invalid_input_saves_nothing(api, acme, globex, multi_vm_yaml):
    response = api.post(BASE, {"name": "x", "tenant": "acme", "yaml": "a: [b"}, format="json")
    assert response.status_code == 400 and "Not valid YAML" in response.json()["yaml"]
    response = api.post(BASE, {"name": "x", "tenant": "globex", "yaml": multi_vm_yaml}, format="json")
    assert response.status_code == 400 and "tenant" in response.json()
    assert not MigrationPlan.objects.exists()
    plan = api.post(BASE, {"name": "x", "tenant": "acme", "yaml": multi_vm_yaml}, format="json").json()
    foreign = globex.networks.get()
    response = api.post(
        f"{BASE}{plan['id']}/mappings/", {"network": {"pod": foreign.pk}, "storage": {"fast": "ok"}}, format="json"
    )
    assert response.status_code == 400 and "network" in response.json()
    assert MigrationPlan.objects.get(pk=plan["id"]).mappings == {}


def test_other_tenants_plans_are_404(api, outsider, acme, multi_vm_yaml):
    plan = api.post(BASE, {"name": "x", "tenant": "acme", "yaml": multi_vm_yaml}, format="json").json()
    other = APIClient()
    other.force_authenticate(outsider)
    listing = other.get(BASE).json()
    assert (listing.get("results") if isinstance(listing, dict) else listing) == []
    for method, suffix in (("get", ""), ("get", "review/"), ("post", "mappings/"), ("post", "submit/"), ("delete", "")):
        response = getattr(other, method)(f"{BASE}{plan['id']}/{suffix}", {}, format="json")
        assert response.status_code == 404, (method, suffix, response.status_code)
    assert MigrationPlan.objects.filter(pk=plan["id"]).exists()


def test_openapi_documents_the_endpoints(client, member):
    client.force_login(member)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/migration/api/plans/", "/migration/api/plans/{id}/mappings/", "/migration/api/plans/{id}/review/",
                 "/migration/api/plans/{id}/submit/"):  # fmt: skip
        assert path in schema, path
