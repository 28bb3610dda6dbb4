"""The whole wizard through the Django test client: every step validates server-side and submit creates orders."""

from __future__ import annotations

import pytest

from migration.models import MigrationItem, MigrationPlan
from portal.models import AuditEvent, Origin, VMRequest
from portal.states import State

from ..conftest import ED25519_KEY

pytestmark = pytest.mark.django_db


def create_plan(client, tenant, name="shop") -> MigrationPlan:
    response = client.post("/migration/new/", {"name": name, "tenant": tenant.slug})
    assert response.status_code == 302, response.content.decode()[:2000]
    return MigrationPlan.objects.get(name=name)


def walk_to_review(client, plan, multi_vm_yaml, network, template, *, deselect_gpu=True):
    response = client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": multi_vm_yaml, "go": "next"})
    assert response.status_code == 302 and response.url.endswith("/select/"), response.content.decode()[:3000]
    items = {i.name: i for i in plan.items.all()}
    selected = [items["web"].pk, items["db"].pk] + ([] if deselect_gpu else [items["gpu"].pk])
    response = client.post(f"/migration/{plan.pk}/select/", {"selected": selected, "go": "next"})
    assert response.status_code == 302 and response.url.endswith("/network/")
    response = client.post(
        f"/migration/{plan.pk}/network/", {"net:pod": network.pk, "net:shop/lan": network.pk, "go": "next"}
    )
    assert response.status_code == 302 and response.url.endswith("/storage/"), response.content.decode()[:3000]
    response = client.post(
        f"/migration/{plan.pk}/storage/",
        {"storage:fast": "local-lvm", "template:https://images.example/debian.qcow2": template.pk, "go": "next"},
    )
    assert response.status_code == 302 and response.url.endswith("/target/"), response.content.decode()[:3000]
    data = {"tenant": plan.tenant.slug, "ssh_keys": ED25519_KEY, "go": "next"}
    for item in plan.items.filter(selected=True):
        data[f"name:{item.pk}"] = f"mig-{item.name}"
        data[f"mode:{item.pk}"] = "vm"
    response = client.post(f"/migration/{plan.pk}/target/", data)
    assert response.status_code == 302 and response.url.endswith("/review/"), response.content.decode()[:3000]


def test_critical_concern_blocks_next_until_deselected(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    plan = create_plan(client, acme)
    client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": multi_vm_yaml, "go": "next"})
    gpu = plan.items.get(name="gpu")
    assert gpu.critical_count == 1 and gpu.selected
    # Everything is selected: Next is refused on the server, with the reason on the step.
    response = client.post(
        f"/migration/{plan.pk}/select/", {"selected": [i.pk for i in plan.items.all()], "go": "next"}
    )
    assert response.status_code == 422
    assert "gpu has 1 Critical concern" in response.content.decode()
    # Later steps are locked: going there directly lands on the step with errors.
    response = client.get(f"/migration/{plan.pk}/network/")
    assert response.status_code == 302 and response.url.endswith("/select/")
    # Accepting the risk explicitly unblocks it, as does deselecting.
    response = client.post(
        f"/migration/{plan.pk}/select/",
        {"selected": [i.pk for i in plan.items.all()], "accept": [gpu.pk], "go": "next"},
    )
    assert response.status_code == 302 and response.url.endswith("/network/")
    response = client.post(f"/migration/{plan.pk}/select/", {"selected": [i.pk for i in plan.items.all()]})
    response = client.post(f"/migration/{plan.pk}/select/", {"go": "deselect-critical", "selected": [gpu.pk]})
    gpu.refresh_from_db()
    assert not gpu.selected


def test_unmapped_network_blocks_the_storage_step(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    plan = create_plan(client, acme)
    client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": multi_vm_yaml})
    client.post(f"/migration/{plan.pk}/select/", {"selected": [plan.items.get(name="web").pk], "go": "next"})
    network = acme.networks.get()
    response = client.post(f"/migration/{plan.pk}/network/", {"net:pod": network.pk, "go": "next"})
    assert response.status_code == 422
    assert "shop/lan" in response.content.decode()
    assert client.get(f"/migration/{plan.pk}/storage/").url.endswith("/network/")
    # Another tenant's network is refused and nothing is saved.
    other = MigrationPlan.objects.get(pk=plan.pk)
    from portal.models import Tenant

    foreign = Tenant.objects.create(slug="foreign", name="F").networks.create(name="x", bridge="vmbr9")
    response = client.post(f"/migration/{plan.pk}/network/", {"net:pod": foreign.pk, "net:shop/lan": network.pk})
    assert response.status_code == 422
    other.refresh_from_db()
    assert "shop/lan" not in (other.mappings.get("network") or {})


def test_whole_wizard_submits_requests_to_the_approval_queue(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    plan = create_plan(client, acme)
    network = acme.networks.get()
    walk_to_review(client, plan, multi_vm_yaml, network, template)
    response = client.get(f"/migration/{plan.pk}/review/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "shop/web" in body and "shop/db" in body and "shop/gpu" not in body
    assert 'class="changed"' in body  # the map changed the bridge/storage lines
    assert "Submit 2 VMs for approval" in body
    response = client.post(f"/migration/{plan.pk}/submit/")
    assert response.status_code == 302 and response.url.endswith("/progress/")
    plan.refresh_from_db()
    assert plan.status == MigrationPlan.Status.SUBMITTED
    vms = {vm.name: vm for vm in VMRequest.objects.filter(tenant=acme)}
    assert set(vms) == {"mig-web", "mig-db"}
    web, db = vms["mig-web"], vms["mig-db"]
    assert web.origin == Origin.MIGRATION and web.state == State.PENDING_APPROVAL
    assert (web.sockets, web.cores, web.memory_mib, web.disk_gib) == (1, 2, 2048, 20)
    assert (db.cores, db.memory_mib, db.run_strategy) == (4, 4096, "Halted")
    assert web.network == network and web.template == template and web.ssh_keys == ED25519_KEY
    assert MigrationItem.objects.get(plan=plan, name="web").vm_request == web
    assert AuditEvent.objects.filter(action="migration-submitted").count() == 2
    # Submitted plans cannot be changed any more.
    response = client.post(f"/migration/{plan.pk}/submit/")
    assert response.status_code == 302 and VMRequest.objects.count() == 2
    response = client.get(f"/migration/{plan.pk}/progress/")
    assert "mig-web" in response.content.decode()
    review = client.get(f"/migration/{plan.pk}/review/").content.decode()
    assert "already has a VM named" not in review and "Submit 2 VMs" not in review
    assert f'href="/vms/{web.pk}/"' in review  # each reviewed VM links to its request
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"migration-plan-created", "migration-plan-submitted"} <= actions
    response = client.get(f"/migration/{plan.pk}/progress/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200  # pending approval is not final: keeps polling


def test_name_clash_with_a_live_vm_is_a_review_error(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    network = acme.networks.get()
    VMRequest.objects.create(
        tenant=acme, name="mig-web", template=template, memory_mib=1024, disk_gib=10, network=network,
        state=State.READY,
    )  # fmt: skip
    plan = create_plan(client, acme)
    walk_to_review(client, plan, multi_vm_yaml, network, template)
    body = client.get(f"/migration/{plan.pk}/review/").content.decode()
    assert "already has a VM named" in body
    response = client.post(f"/migration/{plan.pk}/submit/")
    assert response.status_code == 422
    assert VMRequest.objects.count() == 1
    assert MigrationPlan.objects.get(pk=plan.pk).status == MigrationPlan.Status.DRAFT


def test_quota_is_checked_for_the_whole_plan(client, member, acme, template, multi_vm_yaml):
    acme.quota.vcpus = 4
    acme.quota.save()
    client.force_login(member)
    plan = create_plan(client, acme)
    walk_to_review(client, plan, multi_vm_yaml, acme.networks.get(), template)
    body = client.get(f"/migration/{plan.pk}/review/").content.decode()
    assert "Quota:" in body
    assert client.post(f"/migration/{plan.pk}/submit/").status_code == 422
    assert not VMRequest.objects.exists()


def test_node_group_mode_creates_a_cluster_request(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    plan = create_plan(client, acme)
    network = acme.networks.get()
    walk_to_review(client, plan, multi_vm_yaml, network, template)
    items = list(plan.items.filter(selected=True))
    data = {"tenant": acme.slug, "ssh_keys": ED25519_KEY, "cluster_name": "shop-k8s", "cluster_network": network.pk}
    for item in items:
        data[f"name:{item.pk}"] = f"ng-{item.name}"
        data[f"mode:{item.pk}"] = "node_group"
    assert client.post(f"/migration/{plan.pk}/target/", {**data, "go": "next"}).status_code == 302
    response = client.post(f"/migration/{plan.pk}/submit/")
    assert response.status_code == 302, response.content.decode()[:3000]
    from portal.models import ClusterRequest

    cluster = ClusterRequest.objects.get(tenant=acme, name="shop-k8s")
    assert cluster.origin == Origin.MIGRATION
    assert sorted(cluster.node_groups.values_list("name", flat=True)) == ["ng-db", "ng-web"]
    assert not VMRequest.objects.exists()


def test_plans_can_be_duplicated_and_deleted(client, member, acme, template, multi_vm_yaml):
    client.force_login(member)
    plan = create_plan(client, acme)
    client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": multi_vm_yaml})
    plan.refresh_from_db()
    response = client.post(f"/migration/{plan.pk}/duplicate/")
    copy = MigrationPlan.objects.exclude(pk=plan.pk).get()
    assert response.url.endswith(f"/{copy.pk}/source/")
    assert copy.items.count() == 3 and copy.source_text == plan.source_text
    client.post(f"/migration/{plan.pk}/delete/")
    assert not MigrationPlan.objects.filter(pk=plan.pk).exists()
    assert not MigrationItem.objects.filter(plan_id=plan.pk).exists()
    assert "shop (copy)" in client.get("/migration/").content.decode()


def test_download_holds_yaml_json_and_reports(client, member, acme, template, multi_vm_yaml):
    import io
    import zipfile

    client.force_login(member)
    plan = create_plan(client, acme)
    walk_to_review(client, plan, multi_vm_yaml, acme.networks.get(), template)
    response = client.get(f"/migration/{plan.pk}/download/")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    prefix = f"migration-plan-{plan.pk}/"
    assert {prefix + n for n in ("report.md", "report.json", "plans/shop_web.yaml", "plans/shop_web.json")} <= set(
        names
    )
    assert prefix + "plans/shop_gpu.yaml" not in names
