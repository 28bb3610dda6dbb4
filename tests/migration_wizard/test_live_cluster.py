"""Live-cluster source against the project's fake Kubernetes API server holding KubeVirt VMs."""

from __future__ import annotations

import socket

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from migration import crypto
from migration.models import MigrationPlan

from .manifests import multi_vm_docs

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(acme, member):
    return MigrationPlan.objects.create(tenant=acme, owner=member, name="live")


def error_text(response) -> str:
    body = response.content.decode()
    start = body.find('role="alert"')
    return body[start : start + 600]


def kubeconfig_file(config: dict) -> SimpleUploadedFile:
    return SimpleUploadedFile("config", yaml.safe_dump(config).encode())


def test_reads_vms_from_a_live_cluster(client, member, plan, kubeapi):
    docs = multi_vm_docs()
    other = dict(docs[0], metadata={"name": "elsewhere", "namespace": "other"})
    kubeapi.load_objects([*docs, other])
    client.force_login(member)
    response = client.post(
        f"/migration/{plan.pk}/source/?action=connect", {"kubeconfig": kubeconfig_file(kubeapi.kubeconfig_dict())}
    )
    body = response.content.decode()
    assert response.status_code == 200, body[:3000]
    assert 'value="shop"' in body and "(3 VMs: db, gpu, web)" in body and 'value="other"' in body
    # The kubeconfig is stored encrypted, never shown back.
    plan.refresh_from_db()
    assert plan.has_kubeconfig and kubeapi.token not in plan.kubeconfig_token
    assert kubeapi.token not in body and "A kubeconfig is stored for this plan" in body
    assert crypto.decrypt(plan.kubeconfig_token)  # decryptable with the server key
    response = client.post(f"/migration/{plan.pk}/source/?action=import", {"namespaces": ["shop"], "go": "next"})
    assert response.status_code == 302, error_text(response)
    assert sorted(plan.items.values_list("name", flat=True)) == ["db", "gpu", "web"]
    plan.refresh_from_db()
    assert plan.source_kind == "cluster" and "shop" in plan.source_description
    assert plan.items.get(name="gpu").critical_count == 1
    # The token never reaches the page again, and deleting the plan deletes the kubeconfig with it.
    page = client.get(f"/migration/{plan.pk}/source/").content.decode()
    assert kubeapi.token not in page
    client.post(f"/migration/{plan.pk}/delete/")
    assert not MigrationPlan.objects.filter(pk=plan.pk).exists()


def test_configured_source_cluster(client, member, plan, kubeapi, settings, tmp_path):
    kubeapi.load_objects(multi_vm_docs()[:1])
    settings.MIGRATION_SOURCE_KUBECONFIG = str(kubeapi.write_kubeconfig(tmp_path / "kc"))
    client.force_login(member)
    response = client.post(f"/migration/{plan.pk}/source/?action=connect", {"use_configured": "1"})
    assert response.status_code == 200 and "(1 VM: web)" in response.content.decode()
    response = client.post(
        f"/migration/{plan.pk}/source/?action=import", {"use_configured": "1", "namespaces": ["shop"]}
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert list(plan.items.values_list("name", flat=True)) == ["web"] and not plan.has_kubeconfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kubeconfig_that_cannot_connect(client, member, plan, kubeapi):
    client.force_login(member)
    config = kubeapi.kubeconfig_dict()
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{_free_port()}"
    response = client.post(f"/migration/{plan.pk}/source/?action=connect", {"kubeconfig": kubeconfig_file(config)})
    assert response.status_code == 422
    assert "Cannot connect to the cluster" in response.content.decode()
    plan.refresh_from_db()
    assert not plan.has_kubeconfig and not plan.items.exists()  # nothing half-saved


def test_kubeconfig_with_a_wrong_token(client, member, plan, kubeapi):
    client.force_login(member)
    config = kubeapi.kubeconfig_dict()
    config["users"][0]["user"]["token"] = "wrong"
    response = client.post(f"/migration/{plan.pk}/source/?action=connect", {"kubeconfig": kubeconfig_file(config)})
    assert response.status_code == 422
    assert "refused the credentials" in response.content.decode()
    plan.refresh_from_db()
    assert not plan.has_kubeconfig
