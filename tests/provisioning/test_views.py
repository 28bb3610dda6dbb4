"""The pipeline on the VM page, Proxmox task logs, admin retry and cleanup, the inventory page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Membership, Role
from portal.states import State
from provisioning import pipeline, tasks
from provisioning.models import ProxmoxVM

from .conftest import portal_vms

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(user, tenant):
    Membership.objects.create(user=user, tenant=tenant, role=Role.USE)
    return user


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_user("root", password="pw-root-123", is_staff=True, is_superuser=True)


def test_vm_page_shows_steps_current_step_and_live_state(eager, pve, make_request, member, client):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="start")
    client.force_login(member)
    page = client.get(reverse("portal:vm-detail", args=[request.pk])).content.decode()
    assert 'data-step="clone"' in page and "Clone template" in page
    assert 'class="pending current" data-step="start"' in page and 'aria-current="step"' in page
    assert 'class="done" data-step="configure"' in page
    assert "Proxmox task log" in page
    vmid = ProxmoxVM.objects.get(request=request).vmid
    assert f"{vmid} on pve1" in page

    log = client.get(reverse("provisioning:step-log", args=[request.pk, "clone"])).content.decode()
    assert "TASK OK" in log and "UPID:" in log
    assert "hx-trigger" not in log  # a finished step's log does not poll

    tasks.run_step.delay(request.pk, "start")
    fragment = client.get(reverse("provisioning:vm-pipeline", args=[request.pk])).content.decode()
    assert 'data-power="running"' in fragment
    assert 'hx-trigger="every' in fragment  # a ready VM's live state keeps refreshing


def test_step_details_for_admins_only(eager, pve, make_request, member, staff, client):
    pve.fail("POST", "/nodes/pve1/qemu/9000/clone", 403, "Permission check failed (/vms/9000, VM.Clone)")
    request = make_request()
    tasks.provision_vm.delay(request.pk)
    client.force_login(member)
    page = client.get(reverse("provisioning:vm-pipeline", args=[request.pk])).content.decode()
    assert "not allowed" in page and "HTTP 403" not in page and "Retry from" not in page
    client.force_login(staff)
    page = client.get(reverse("provisioning:vm-pipeline", args=[request.pk])).content.decode()
    assert "HTTP 403" in page and "Retry from the failed step" in page


def test_admin_retry_and_cleanup_buttons(eager, pve, make_request, staff, member, client, settings):
    settings.PROVISIONING_KEEP_FAILED_VMS = True
    pve.fail("PUT", "/nodes/{node}/qemu/{vmid}/resize", 500, "boom")
    request = make_request()
    tasks.provision_vm.delay(request.pk)
    request.refresh_from_db()
    assert request.state == State.FAILED
    client.force_login(member)
    assert client.post(reverse("provisioning:cleanup", args=[request.pk])).status_code == 404  # admins only
    assert len(portal_vms(pve, request.pk)) == 1

    client.force_login(staff)
    page = client.get(reverse("provisioning:unmanaged")).content.decode()
    assert request.name in page and "Clean up" in page
    response = client.post(reverse("provisioning:cleanup", args=[request.pk]))
    assert response.status_code == 302
    # on_commit does not fire inside the test transaction: run what it queued
    tasks.cleanup_vm.delay(request.pk, request.vm_actions.get(action="cleanup").pk)
    assert portal_vms(pve, request.pk) == []
    assert request.vm_actions.get(action="cleanup").state == "done"

    pve.failures.clear()
    client.post(reverse("provisioning:retry", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == State.PROVISIONING
    tasks.retry_vm.delay(request.pk)
    request.refresh_from_db()
    assert request.state == State.READY
    assert len(portal_vms(pve, request.pk)) == 1


def test_other_tenants_cannot_see_the_pipeline(eager, make_request, client, django_user_model):
    request = make_request()
    stranger = django_user_model.objects.create_user("mallory", password="pw-mallory-123")
    client.force_login(stranger)
    assert client.get(reverse("provisioning:vm-pipeline", args=[request.pk])).status_code == 404
    assert client.get(reverse("provisioning:step-log", args=[request.pk, "clone"])).status_code == 404
