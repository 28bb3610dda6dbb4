"""Status and template sync against fakepve: one /cluster/resources call per endpoint, bulk updates, drift."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from portal.models import OSTemplate, VMRequest
from portal.states import State
from provisioning import tasks
from provisioning.models import ProxmoxVM, UnmanagedVM, VmidReservation
from provisioning.sync import sync_endpoint_status

from .conftest import requests_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(pve, endpoint, make_request):
    """200 ready requests whose VMs exist in fakepve (half running), as if provisioned earlier."""
    rows = []
    for i in range(200):
        vmid = 100000 + i
        status = "running" if i % 2 == 0 else "stopped"
        pve.add_vm(
            vmid,
            f"fleet{i}",
            node="pve1" if i % 3 else "pve2",
            status=status,
            config={"memory": 1024, "cores": 1, "description": f"portal-request:{i}"},
        )
        request = make_request(state=State.READY)
        rows.append(ProxmoxVM(request=request, endpoint=endpoint, vmid=vmid, node="pve1"))
    ProxmoxVM.objects.bulk_create(rows)
    return rows


def test_one_call_per_endpoint_updates_every_row(pve, endpoint, fleet, django_assert_max_num_queries):
    before = len(requests_to(pve, "GET", "/cluster/resources"))
    total_before = len(pve.requests)
    with django_assert_max_num_queries(20):  # bulk: the row count does not drive the query count
        result = sync_endpoint_status(endpoint)
    assert len(requests_to(pve, "GET", "/cluster/resources")) == before + 1
    assert len(pve.requests) == total_before + 1  # and nothing else
    assert result["updated"] == 200 and result["drifted"] == 0
    rows = {p.vmid: p for p in ProxmoxVM.objects.all()}
    assert all(p.last_synced_at is not None for p in rows.values())
    assert rows[100000].power_state == "running" and rows[100000].node == "pve2"
    assert rows[100001].power_state == "stopped" and rows[100001].node == "pve1"
    assert rows[100000].maxmem_bytes == 1024 * 1024 * 1024 and rows[100000].uptime_seconds is not None

    pve.vm(100000).status = "stopped"
    pve.vm(100001).status = "running"
    sync_endpoint_status(endpoint)
    assert ProxmoxVM.objects.get(vmid=100000).power_state == "stopped"
    assert ProxmoxVM.objects.get(vmid=100001).power_state == "running"


def test_missing_vm_is_flagged_as_drifted_and_outsiders_are_listed(pve, endpoint, fleet):
    pve.vms.remove(pve.vm(100005))
    pve.add_vm(4242, "handmade", node="pve2", status="running")
    VmidReservation.objects.create(endpoint=endpoint, vmid=100998, external=True)  # its VM is gone now
    result = sync_endpoint_status(endpoint)
    assert result["drifted"] == 1
    drifted = ProxmoxVM.objects.get(vmid=100005)
    assert drifted.drifted and drifted.drifted_since is not None and drifted.power_state == "missing"
    assert list(UnmanagedVM.objects.values_list("vmid", "name")) == [(4242, "handmade")]
    assert not VmidReservation.objects.filter(vmid=100998).exists()
    # the VM comes back (e.g. restored from backup): no longer drifted; the outsider goes away
    pve.add_vm(100005, "fleet5", node="pve1", status="stopped", config={"memory": 1024})
    pve.vms.remove(pve.vm(4242))
    sync_endpoint_status(endpoint)
    assert not ProxmoxVM.objects.get(vmid=100005).drifted
    assert not UnmanagedVM.objects.exists()


def test_sync_task_survives_an_unreachable_endpoint(pve, endpoint, fleet):
    pve.fail("GET", "/cluster/resources", 503, "Service Unavailable", times=1)
    result = tasks.sync_status()
    assert "error" in result["demo"]
    assert tasks.sync_status()["demo"]["updated"] == 200


def test_sync_templates_command_records_and_marks_vanished(pve, endpoint, capsys):
    call_command("sync_templates")
    rows = {t.vmid: t for t in OSTemplate.objects.filter(endpoint=endpoint)}
    assert set(rows) == {9000, 9001, 9002}
    ubuntu = rows[9000]
    assert ubuntu.name == "ubuntu-24.04" and ubuntu.node == "pve1" and ubuntu.cloud_init
    assert ubuntu.tags == ["cloudinit", "ubuntu"] and ubuntu.disks == {"scsi0": 3584 * 1024 * 1024}
    assert ubuntu.min_disk_gib == 4 and ubuntu.default_user == "ubuntu" and ubuntu.source == "sync"
    assert rows[9002].node == "pve2" and not rows[9002].cloud_init
    assert "3 new" in capsys.readouterr().out

    pve.vms.remove(pve.vm(9001))
    call_command("sync_templates")
    gone = OSTemplate.objects.get(endpoint=endpoint, vmid=9001)
    assert gone.vanished_at is not None and not gone.active
    assert OSTemplate.objects.get(endpoint=endpoint, vmid=9000).vanished_at is None


def test_power_actions_through_tasks(eager, pve, make_request):
    request = make_request()
    tasks.provision_vm.delay(request.pk)
    request.refresh_from_db()
    assert request.state == State.READY
    vmid = request.proxmox.vmid
    assert tasks.vm_action.delay(request.pk, "shutdown").get() == "done"
    assert pve.vm(vmid).status == "stopped"
    assert ProxmoxVM.objects.get(request=request).power_state == "stopped"
    shutdown = [r for r in pve.requests if r[1].endswith(f"/qemu/{vmid}/status/shutdown")]
    assert "forceStop=1" in str(shutdown[0][2])  # stop after the grace period
    assert tasks.vm_action.delay(request.pk, "start").get() == "done"
    assert pve.vm(vmid).status == "running"
    assert tasks.vm_action.delay(request.pk, "reboot").get() == "done"
    actions = list(request.vm_actions.values_list("action", "state"))
    assert actions == [("reboot", "done"), ("start", "done"), ("shutdown", "done")]
    assert all(a.upid.startswith("UPID:") for a in request.vm_actions.all())
    from portal.models import AuditEvent

    assert {"vm_shutdown", "vm_start", "vm_reboot"} <= set(
        AuditEvent.objects.filter(object_id=request.pk).values_list("action", flat=True)
    )


def test_slow_guest_shutdown_is_forced_after_timeout(eager, pve, make_request, settings):
    settings.PROVISIONING_SHUTDOWN_TIMEOUT = 5
    request = make_request()
    tasks.provision_vm.delay(request.pk)
    vmid = ProxmoxVM.objects.get(request=request).vmid
    pve.vm(vmid).shutdown_secs = 90  # the guest ignores ACPI
    assert tasks.vm_action.delay(request.pk, "shutdown").get() == "done"
    assert pve.vm(vmid).status == "stopped"


def test_delete_of_never_provisioned_failed_request(eager, pve, make_request):
    request = make_request(state=State.FAILED)
    VMRequest.objects.filter(pk=request.pk).update(state=State.DELETING)
    assert tasks.delete_vm.delay(request.pk).get() == State.DELETED
