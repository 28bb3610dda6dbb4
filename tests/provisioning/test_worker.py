"""Through a real Celery worker (Redis broker): the hand-off, the chain, 20 concurrent requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest

from portal.models import VMRequest
from portal.states import FINAL_STATES, State
from provisioning import tasks
from provisioning.models import ProvisionStep, VmidReservation

from .conftest import portal_vms, wait_for

pytestmark = pytest.mark.worker


def test_happy_path_through_worker(celery_worker, pve, make_request):
    request = make_request(cores=4, memory_mib=2048)
    tasks.provision_vm.delay(request.pk)
    wait_for(lambda: VMRequest.objects.get(pk=request.pk).state in FINAL_STATES, timeout=60)
    request.refresh_from_db()
    assert request.state == State.READY, request.reason
    vm = pve.vm(request.proxmox.vmid)
    assert vm.status == "running"
    assert int(vm.config["cores"]) == 4 and int(vm.config["memory"]) == 2048
    assert vm.config["net0"].endswith(",bridge=vmbr0,tag=42")
    assert urllib.parse.unquote(vm.config["sshkeys"]) == request.ssh_keys
    assert {"portal", "tenant-acme", f"req-{request.pk}"} <= set(vm.config["tags"].split(";"))


def test_admin_approval_hands_off_to_the_worker_after_commit(celery_worker, pve, make_request, user):
    """The portal's own approval (not a direct .delay): on commit the task goes through Redis to the worker."""
    from django.contrib.auth import get_user_model

    from portal import services

    request = make_request(state=State.PENDING_APPROVAL)
    admin = get_user_model().objects.create_user("root-admin", password="pw-admin-123", is_staff=True)
    services.approve(request, actor=admin)  # transactional_db: the on_commit hand-off fires for real
    wait_for(lambda: VMRequest.objects.get(pk=request.pk).state in FINAL_STATES, timeout=60)
    request.refresh_from_db()
    assert request.state == State.READY, request.reason
    assert len(portal_vms(pve, request.pk)) == 1


def test_twenty_concurrent_requests_get_distinct_vmids(celery_worker, pve, make_request, tenant):
    tenant.storage = "ceph-vm"  # shared: placement may use both nodes
    tenant.save()
    requests = [make_request(memory_mib=512) for _ in range(20)]
    for request in requests:
        tasks.provision_vm.delay(request.pk)
    ids = [r.pk for r in requests]
    try:
        wait_for(lambda: VMRequest.objects.filter(pk__in=ids, state__in=FINAL_STATES).count() == 20, timeout=180)
    except AssertionError:
        stuck = ProvisionStep.objects.filter(request_id__in=ids).exclude(state__in=["done", "skipped"])
        summary = sorted(stuck.values_list("request_id", "name", "state", "attempts", "message_admin"))
        raise AssertionError(f"not all requests finished; unfinished steps: {summary}") from None
    states = dict(VMRequest.objects.filter(pk__in=ids).values_list("pk", "state"))
    assert set(states.values()) == {State.READY}, VMRequest.objects.filter(pk__in=ids).values_list("reason")
    vmids = list(VmidReservation.objects.filter(request_id__in=ids).values_list("vmid", flat=True))
    assert len(vmids) == 20 and len(set(vmids)) == 20
    for request in requests:
        assert len(portal_vms(pve, request.pk)) == 1
    assert {vm.node for vm in pve.vms if not vm.template} == {"pve1", "pve2"}


def _database_url(connection) -> str:
    """The test database as a URL for a worker subprocess (the test database itself, not a new one)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db.get("USER") or "postgres"
        if db.get("PASSWORD"):
            auth += f":{db['PASSWORD']}"
        return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.fakepve(time_scale=0.01)
def test_worker_process_killed_mid_clone_resumes_without_duplicate(
    transactional_db, pve, make_request, tenant, monkeypatch
):
    """A real prefork worker whose child is SIGKILLed while the clone task runs: the message comes back
    (acks_late + reject_on_worker_lost), the step finds its own half-made VM and waits for it. One VM, ready."""
    from django.db import connection
    from kombu import Connection

    from portal.celery import app

    from .conftest import REDIS_URL, _reset_pools

    broker = REDIS_URL
    prefix = f"provisioning-kill-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
    try:
        with Connection(broker, connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    tenant.storage = "ceph-vm"
    tenant.save()
    pve.ceph_slow(300)  # the clone takes about 3 s
    request = make_request()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.provisioning.worker_settings",
        TEST_CELERY_BROKER_URL=broker,
        PROVISIONING_TEST_KEYPREFIX=prefix,
        DATABASE_URL=_database_url(connection),
        PROVISIONING_TASK_POLL_INTERVAL="0.05",
        PROVISIONING_AGENT_WAIT="0",
        DJANGO_LOG_LEVEL="WARNING",
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "prefork",
            "-c",
            "1",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    before = app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.task_always_eager = broker, False
    app.conf.broker_transport_options = {"global_keyprefix": prefix}
    _reset_pools(app)
    try:
        tasks.provision_vm.delay(request.pk)
        step = wait_for(
            lambda: (
                ProvisionStep.objects.filter(request=request, name="clone", state="running").exclude(upid="").first()
            ),
            timeout=60,
        )
        victims = _children(worker.pid)
        assert victims, "no pool process to kill"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)  # mid-task: the clone is still copying
        wait_for(lambda: VMRequest.objects.get(pk=request.pk).state in FINAL_STATES, timeout=90)
    finally:
        worker.terminate()
        worker.wait(30)
        app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options = before
        _reset_pools(app)
    request.refresh_from_db()
    assert request.state == State.READY, request.reason
    assert len([r for r in pve.requests if r[0] == "POST" and r[1].endswith("/clone")]) == 1
    assert len(portal_vms(pve, request.pk)) == 1
    clone = ProvisionStep.objects.get(request=request, name="clone")
    assert clone.attempts == 2 and clone.upid == step.upid  # resumed the same Proxmox task
