"""The provisioning pipeline against fakepve (tasks run inline): happy path, faults, crash-resume, cleanup, retry."""

from __future__ import annotations

import urllib.parse

import pytest

from portal.quota import usage_by_tenant
from portal.states import State
from provisioning import pipeline, tasks
from provisioning.models import ProvisionStep, ProxmoxVM, StepState, VmidReservation

from .conftest import portal_vms, requests_to

pytestmark = pytest.mark.django_db


def provision(request) -> None:
    tasks.provision_vm.delay(request.pk)
    request.refresh_from_db()


def assert_nothing_left(pve, request) -> None:
    assert portal_vms(pve, request.pk) == []
    assert not VmidReservation.objects.filter(request=request).exists()
    pvm = ProxmoxVM.objects.get(request=request)
    assert pvm.vmid is None and not pvm.cleanup_pending


def admin_retry(request) -> None:
    pipeline.retry_after_failure(request)
    tasks.retry_vm.delay(request.pk)
    request.refresh_from_db()


def test_happy_path_inline(eager, pve, make_request):
    request = make_request(cores=2, sockets=2, memory_mib=2048, disk_gib=20)
    provision(request)
    assert request.state == State.READY, request.reason
    pvm = request.proxmox
    assert 100000 <= pvm.vmid <= 100999 and pvm.node == "pve1"
    vm = pve.vm(pvm.vmid)
    cfg = vm.config
    assert vm.status == "running"
    assert int(cfg["cores"]) == 2 and int(cfg["sockets"]) == 2 and int(cfg["memory"]) == 2048
    assert cfg["net0"].startswith("virtio=") and cfg["net0"].endswith(",bridge=vmbr0,tag=42")  # MAC kept
    assert urllib.parse.unquote(cfg["sshkeys"]) == request.ssh_keys
    assert set(cfg["tags"].split(";")) == {"portal", "tenant-acme", f"req-{request.pk}"}
    assert cfg["ipconfig0"] == "ip=dhcp" and cfg["ciuser"] == "ubuntu"
    assert str(cfg["agent"]) in ("1", "enabled=1") and str(cfg["onboot"]) == "1"
    assert pvm.vmid in pve.pools["portal"]
    # fakepve's resize is a no-op: check what was asked (absolute, grow only)
    resizes = requests_to(pve, "PUT", f"/qemu/{pvm.vmid}/resize")
    assert len(resizes) == 1 and "size=20G" in str(resizes[0][2]) and "disk=scsi0" in str(resizes[0][2])
    steps = {s.name: s for s in ProvisionStep.objects.filter(request=request)}
    assert steps["cloud_init"].state == StepState.SKIPPED
    for name in ("clone", "configure", "resize_disk", "start"):
        assert steps[name].state == StepState.DONE and steps[name].upid.startswith("UPID:")
        assert steps[name].started_at <= steps[name].finished_at
    assert pvm.ip_addresses == []  # a fresh fake VM has no guest agent
    assert len(requests_to(pve, "POST", "/clone")) == 1


def test_guest_agent_addresses_are_recorded(eager, pve, make_request):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="guest_ready")
    vm = pve.vm(ProxmoxVM.objects.get(request=request).vmid)
    vm.agent = {
        "interfaces": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
            {
                "name": "eth0",
                "ip-addresses": [
                    {"ip-address": "10.20.0.77", "ip-address-type": "ipv4", "prefix": 24},
                    {"ip-address": "fe80::1", "ip-address-type": "ipv6", "prefix": 64},
                ],
            },
        ]
    }
    assert pipeline.run_all(request.pk) is None
    request.refresh_from_db()
    assert request.state == State.READY
    assert request.proxmox.ip_addresses == ["10.20.0.77"]


def test_static_ip_and_halted(eager, pve, make_request):
    request = make_request(ip_address="10.20.0.50", run_strategy="Halted", disk_gib=2)
    provision(request)
    assert request.state == State.READY
    vm = pve.vm(request.proxmox.vmid)
    assert vm.config["ipconfig0"] == "ip=10.20.0.50/24,gw=10.20.0.1"
    assert vm.config["nameserver"] == "10.20.0.2"
    assert vm.status == "stopped" and str(vm.config["onboot"]) == "0"
    assert requests_to(pve, "PUT", "/resize") == []  # 3.5 GiB template disk is already >= 2 GiB: never shrink


def test_custom_user_data_goes_on_a_cidata_iso_and_delete_removes_it(eager, pve, make_request):
    request = make_request(user_data="#cloud-config\npackages: [nginx]\n")
    provision(request)
    assert request.state == State.READY, request.reason
    pvm = request.proxmox
    vm = pve.vm(pvm.vmid)
    volid = f"local:iso/portal-cidata-{pvm.vmid}.iso"
    assert pvm.iso_volume == volid
    assert any(str(v).startswith(volid + ",media=cdrom") for k, v in vm.config.items() if k.startswith("ide"))
    assert not any("cloudinit" in str(v) for v in vm.config.values())  # Proxmox's own drive was replaced
    assert f"portal-cidata-{pvm.vmid}.iso" in pve.storages["local"]["files"]
    assert b"nginx" in pve.uploaded["data"] and b"ssh-ed25519" in pve.uploaded["data"]

    request.state = State.DELETING
    request.save(update_fields=["state"])
    tasks.delete_vm.delay(request.pk)
    request.refresh_from_db()
    assert request.state == State.DELETED
    assert pve.vm(pvm.vmid) is None
    assert f"portal-cidata-{pvm.vmid}.iso" not in pve.storages["local"]["files"]
    # running VM: stopped first, then destroyed with purge
    methods = [(m, p) for m, p, _ in pve.requests if f"/qemu/{pvm.vmid}" in p and m in ("POST", "DELETE")]
    assert methods[-2:] == [
        ("POST", f"/api2/json/nodes/pve1/qemu/{pvm.vmid}/status/stop"),
        ("DELETE", f"/api2/json/nodes/pve1/qemu/{pvm.vmid}"),
    ]
    # purge: out of the pool too; and no disk of the VM is left on any storage
    assert pvm.vmid not in pve.pools["portal"]
    leftovers = [v for s in pve.storages.values() for v in s.get("volumes", {}) if f"-{pvm.vmid}-" in v]
    assert leftovers == []
    assert not VmidReservation.objects.filter(request=request).exists()
    assert usage_by_tenant([request.tenant_id])[request.tenant_id].vms == 0  # quota released


def test_clone_task_error_storage_full_then_retry(eager, pve, make_request, tenant):
    tenant.storage = "ceph-vm"
    tenant.save()
    pve.storages["ceph-vm"]["avail"] = 1024**3
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    assert "space" in request.reason and "Clone template failed" in request.reason
    step = ProvisionStep.objects.get(request=request, name="clone")
    assert step.state == StepState.FAILED and "TASK ERROR" in step.message_admin
    assert_nothing_left(pve, request)
    assert usage_by_tenant([tenant.pk])[tenant.pk].vms == 0  # failed: quota released

    del pve.storages["ceph-vm"]["avail"]
    admin_retry(request)
    assert request.state == State.READY, request.reason
    assert len(portal_vms(pve, request.pk)) == 1
    assert pve.vm(request.proxmox.vmid).config["scsi0"].startswith("ceph-vm:")


def test_transient_500_on_config_is_retried(eager, pve, make_request):
    pve.fail("POST", "/nodes/{node}/qemu/{vmid}/config", 500, "proxy busy", times=1)
    request = make_request()
    provision(request)
    assert request.state == State.READY, request.reason
    assert ProvisionStep.objects.get(request=request, name="configure").attempts == 2
    assert len(portal_vms(pve, request.pk)) == 1


def test_persistent_500_on_config_fails_cleanly_and_retry_works(eager, pve, make_request):
    pve.fail("POST", "/nodes/{node}/qemu/{vmid}/config", 500, "internal error")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    step = ProvisionStep.objects.get(request=request, name="configure")
    assert step.attempts == 3 and "internal error" in step.message_admin
    assert_nothing_left(pve, request)  # the clone was destroyed

    pve.failures.clear()
    admin_retry(request)
    assert request.state == State.READY, request.reason
    assert len(portal_vms(pve, request.pk)) == 1


def test_flaky_network_drops_and_timeouts(eager, pve, make_request, settings):
    settings.PROVISIONING_MAX_ATTEMPTS = 30
    settings.PROVISIONING_HTTP_TIMEOUT = 0.3
    request = make_request()
    pve.flaky_network(drop_rate=0.2, hang_rate=0.05, hang_secs=0.6)
    pve._random.seed(7)  # fakepve applies `seed` only when it starts: seed now for a repeatable fault pattern
    provision(request)
    pve.flaky_network()
    assert request.state == State.READY, request.reason
    assert len(portal_vms(pve, request.pk)) == 1  # never a duplicate
    assert sum(s.attempts for s in ProvisionStep.objects.filter(request=request)) > 7  # faults did happen


def test_locked_vm_waits_then_listed_for_admin_cleanup(eager, pve, make_request):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="configure")
    vmid = ProxmoxVM.objects.get(request=request).vmid
    pve.snapshot_lock(vmid, "backup")
    tasks.run_step.delay(request.pk, "configure")
    request.refresh_from_db()
    assert request.state == State.FAILED and "locked" in request.reason
    pvm = ProxmoxVM.objects.get(request=request)
    assert pvm.cleanup_pending and "locked" in pvm.cleanup_message  # could not destroy a locked VM
    assert len(portal_vms(pve, request.pk)) == 1

    pve.unlock(vmid)
    tasks.cleanup_vm.delay(request.pk)
    assert_nothing_left(pve, request)
    admin_retry(request)
    assert request.state == State.READY


def test_lock_released_between_attempts_resumes(pve, make_request, eager):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="configure")
    vmid = ProxmoxVM.objects.get(request=request).vmid
    pve.snapshot_lock(vmid, "backup")
    with pytest.raises(pipeline.TransientError):
        pipeline.run_step(request.pk, "configure")
    pve.unlock(vmid)
    assert pipeline.run_all(request.pk) is None
    request.refresh_from_db()
    assert request.state == State.READY


def test_template_node_offline_then_back(eager, pve, make_request):
    pve.set_node_offline("pve1")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED and "offline" in request.reason
    assert_nothing_left(pve, request)
    pve.set_node_offline("pve1", offline=False)
    admin_retry(request)
    assert request.state == State.READY


def test_only_allowed_node_offline_is_permanent(eager, pve, make_request, tenant):
    tenant.allowed_nodes, tenant.storage = ["pve2"], "ceph-vm"
    tenant.save()
    pve.set_node_offline("pve2")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED and "online" in request.reason
    assert_nothing_left(pve, request)


def test_shared_storage_places_on_allowed_node(eager, pve, make_request, tenant):
    tenant.allowed_nodes, tenant.storage = ["pve2"], "ceph-vm"
    tenant.save()
    request = make_request()
    provision(request)
    assert request.state == State.READY, request.reason
    assert request.proxmox.node == "pve2" and pve.vm(request.proxmox.vmid).node == "pve2"


def test_no_room_on_allowed_nodes(eager, pve, make_request, tenant):
    tenant.allowed_nodes = ["pve1"]
    tenant.save()
    request = make_request(memory_mib=9 * 1024)  # fake nodes have 8 GiB
    provision(request)
    assert request.state == State.FAILED and "MiB of memory free" in request.reason
    assert_nothing_left(pve, request)


def test_no_free_vmid(eager, pve, make_request, endpoint):
    endpoint.vmid_range_start, endpoint.vmid_range_end = 100000, 100001
    endpoint.save()
    pve.add_vm(100000, "theirs-a", node="pve1")
    pve.add_vm(100001, "theirs-b", node="pve2")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED and "No free VMID" in request.reason
    assert requests_to(pve, "POST", "/clone") == []
    assert pve.vm(100000).name == "theirs-a"  # other people's VMs untouched


def test_vmid_taken_outside_portal_after_reservation(eager, pve, make_request):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="clone")
    reserved = ProxmoxVM.objects.get(request=request).vmid
    pve.add_vm(reserved, "sneaky", node="pve1")  # someone created it by hand meanwhile
    tasks.run_step.delay(request.pk, "clone")
    request.refresh_from_db()
    assert request.state == State.READY, request.reason
    assert request.proxmox.vmid != reserved
    assert pve.vm(reserved).name == "sneaky"


def test_template_missing(eager, pve, make_request, catalog):
    template = catalog["debian-12"]
    pve.vms.remove(pve.vm(9001))
    request = make_request(template=template)
    provision(request)
    assert request.state == State.FAILED and "not available" in request.reason
    assert_nothing_left(pve, request)


def test_worker_crash_after_clone_before_config(eager, pve, make_request):
    request = make_request()
    pipeline.run_all(request.pk, stop_before="configure")
    # The worker died after the clone finished but before it recorded the step as done.
    ProvisionStep.objects.filter(request=request, name="clone").update(state=StepState.RUNNING)
    tasks.run_step.delay(request.pk, "clone")  # the redelivered message
    request.refresh_from_db()
    assert request.state == State.READY
    assert len(requests_to(pve, "POST", "/clone")) == 1
    assert len(portal_vms(pve, request.pk)) == 1


def test_worker_crash_between_clone_post_and_recording_the_upid(eager, pve, make_request, px):
    from provisioning.proxmox import operations as ops

    request = make_request()
    pipeline.run_all(request.pk, stop_before="clone")
    vmid = ProxmoxVM.objects.get(request=request).vmid
    # What the dead worker managed to do: the POST went through, nothing was saved.
    ProvisionStep.objects.filter(request=request, name="clone").update(state=StepState.RUNNING, attempts=1)
    px.wait_task(
        ops.clone(
            px,
            source_node="pve1",
            template_vmid=9000,
            newid=vmid,
            name=request.name,
            full=True,
            target="pve1",
            storage=None,
            pool="portal",
            description=pipeline._description(request),
        )
    )
    tasks.run_step.delay(request.pk, "clone")
    request.refresh_from_db()
    assert request.state == State.READY
    assert len(requests_to(pve, "POST", "/clone")) == 1  # only the dead worker's
    assert request.proxmox.vmid == vmid


def test_steps_are_idempotent_when_rerun(eager, pve, make_request):
    request = make_request(user_data="#cloud-config\n{}\n")
    provision(request)
    assert request.state == State.READY
    before = len(pve.requests)
    mutating_before = [r for r in pve.requests if r[0] != "GET"]
    # Pretend every step must run again (e.g. an admin retry from the first step of a ready VM's pipeline).
    request.state = State.PROVISIONING
    request.save(update_fields=["state"])
    ProvisionStep.objects.filter(request=request).update(state=StepState.PENDING)
    tasks.run_step.delay(request.pk, "reserve_vmid")
    request.refresh_from_db()
    assert request.state == State.READY
    new = [r for r in pve.requests[before:] if r[0] != "GET"]
    # Only the absolute resize may be re-sent (harmless); no clone, no config, no upload, no start.
    assert all(p.endswith("/resize") for _, p, _ in new), new
    assert len(mutating_before) > 4


def test_failure_hides_details_from_user_but_keeps_them_for_admin(eager, pve, make_request):
    pve.fail("POST", "/nodes/pve1/qemu/9000/clone", 403, "Permission check failed (/vms/9000, VM.Clone)")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    step = ProvisionStep.objects.get(request=request, name="clone")
    assert "not allowed" in step.message_user
    assert "HTTP 403" in step.message_admin and "POST /nodes/pve1/qemu/9000/clone" in step.message_admin
    assert "11111111" not in step.message_admin + request.reason  # never the token secret


def test_keep_failed_vms_for_inspection(eager, pve, make_request, settings):
    settings.PROVISIONING_KEEP_FAILED_VMS = True
    pve.fail("PUT", "/nodes/{node}/qemu/{vmid}/resize", 400, "Parameter verification failed.")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    pvm = ProxmoxVM.objects.get(request=request)
    assert pvm.cleanup_pending and len(portal_vms(pve, request.pk)) == 1
    # retry from the failed step: no new clone
    pve.failures.clear()
    admin_retry(request)
    assert request.state == State.READY
    assert len(requests_to(pve, "POST", "/clone")) == 1
    first_done = ProvisionStep.objects.get(request=request, name="clone")
    assert first_done.state == StepState.DONE


def test_linked_clone_in_the_tenants_vmid_range(eager, pve, make_request, tenant):
    tenant.full_clone = False
    tenant.storage = "ceph-vm"  # a linked clone stays on the template's storage: no storage is sent
    tenant.vmid_range_start, tenant.vmid_range_end = 777000, 777009
    tenant.save()
    first, second = make_request(), make_request()
    provision(first)
    provision(second)
    assert first.state == second.state == State.READY
    assert (first.proxmox.vmid, second.proxmox.vmid) == (777000, 777001)
    bodies = [str(body) for _, _, body in requests_to(pve, "POST", "/clone")]
    assert len(bodies) == 2 and all("full=0" in b and "storage=" not in b for b in bodies)


def test_deleted_while_queued_never_clones(eager, pve, make_request):
    from portal.models import VMRequest

    request = make_request()
    pipeline.run_all(request.pk, stop_before="clone")
    VMRequest.objects.filter(pk=request.pk).update(state=State.DELETING)
    tasks.delete_vm.delay(request.pk)
    tasks.run_step.delay(request.pk, "clone")  # a step message still in the queue
    request.refresh_from_db()
    assert request.state == State.DELETED
    assert requests_to(pve, "POST", "/clone") == []
    assert not VmidReservation.objects.filter(request=request).exists()


def test_resume_stalled_chains_and_lost_handoffs(eager, pve, make_request):
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import VMRequest

    long_ago = timezone.now() - timedelta(hours=1)
    stalled = make_request()
    pipeline.run_all(stalled.pk, stop_before="configure")  # the chain's next message was lost with its worker
    ProvisionStep.objects.filter(request=stalled).update(started_at=long_ago, finished_at=long_ago)
    never_started = make_request()
    VMRequest.objects.filter(pk__in=[stalled.pk, never_started.pk]).update(state_changed_at=long_ago)
    busy = make_request()
    pipeline.run_all(busy.pk, stop_before="configure")  # recent activity: left alone

    assert tasks.resume_stalled.delay().get() == 2
    for request in (stalled, never_started):
        request.refresh_from_db()
        assert request.state == State.READY
        assert len(portal_vms(pve, request.pk)) == 1
    busy.refresh_from_db()
    assert busy.state == State.PROVISIONING


def test_failure_tells_what_was_removed(eager, pve, make_request):
    pve.fail("POST", "/nodes/{node}/qemu/{vmid}/status/start", 500, "internal error")
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    note = ProxmoxVM.objects.get(request=request).cleanup_message
    assert note.startswith("Removed from Proxmox") and "destroyed VM 100000" in note
    assert_nothing_left(pve, request)


def test_missing_token_secret_fails_in_plain_words(eager, pve, make_request, monkeypatch):
    from .conftest import SECRET_ENV

    monkeypatch.delenv(SECRET_ENV)
    request = make_request()
    provision(request)
    assert request.state == State.FAILED
    assert "not configured correctly" in request.reason
    assert not ProxmoxVM.objects.get(request=request).cleanup_pending  # nothing was created, nothing to clean
    assert pve.requests == [] or all("/clone" not in p for _, p, _ in pve.requests)


def test_rotated_token_secret_is_used_at_once(endpoint, pve, monkeypatch):
    from devstack.fakepve_demo import DEMO_TOKEN_ID
    from provisioning.proxmox.endpoints import client_for

    from .conftest import SECRET_ENV

    first = client_for(endpoint)
    assert client_for(endpoint) is first  # reused while nothing changes (keep-alive)
    pve.apitokens[DEMO_TOKEN_ID] = "rotated-secret"
    monkeypatch.setenv(SECRET_ENV, "rotated-secret")
    second = client_for(endpoint)
    assert second is not first
    assert second.get("version")["version"]
