"""The platform self-test against fakepve with the demo inventory and a fake management cluster."""

from __future__ import annotations

import asyncio

import pytest

from architecture import selftest
from architecture.models import SelfTestRun
from portal.models import AuditEvent, Origin, Tenant, VMRequest
from portal.states import State

from .conftest import capmox_deployment, proxmox_cluster

pytestmark = pytest.mark.usefixtures("status_cache")


@pytest.fixture
def demo_stack(pve, pve_endpoint, management_cluster):
    """The demo stack: fakepve with synced templates, a management cluster with capmox ready and a ProxmoxCluster."""
    from provisioning.sync import sync_endpoint_templates

    sync_endpoint_templates(pve_endpoint)
    management_cluster(objects=[capmox_deployment(), proxmox_cluster("demo", True, "Provisioned")])
    return pve


def steps(run: SelfTestRun) -> dict[str, dict]:
    run.refresh_from_db()
    return {s["name"]: s for s in run.steps}


def stop_fakepve(pve) -> None:
    """Stop the fake's listener on its own loop (the fixture's teardown then has nothing left to stop)."""
    loop = list(pve.runner.sites)[0]._server.get_loop()
    asyncio.run_coroutine_threadsafe(pve.stop(), loop).result(10)


def marked_vms(pve, request_id: int) -> list:
    marker = f"portal-request:{request_id}"
    return [vm for vm in pve.vms if marker in str(vm.config.get("description", "")).splitlines()]


def test_self_test_passes_on_the_demo_stack(demo_stack, admin_user):
    pve = demo_stack
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.PASSED
    result = steps(run)
    assert [s["status"] for s in result.values()] == ["passed"] * 6, result
    assert "capmox controller ready (1/1 replicas)" in result["capi_provider"]["message"]
    assert result["proxmox_cluster"]["message"] == "1 ProxmoxClusters report ProxmoxAvailable=True."
    assert "1 socket × 1 core, 1024 MiB, portal marker present" in result["verify_vm"]["message"]
    assert "gone from Proxmox" in result["delete_vm"]["message"]
    assert all(s["started"] and s["finished"] for s in result.values())

    run.refresh_from_db()
    vm = run.vm_request
    assert vm.origin == Origin.SELFTEST and vm.tenant.slug == "selftest" and vm.state == State.DELETED
    assert vm.requested_by == admin_user
    # It went through the normal pipeline: a real clone of a template in the fake, now destroyed.
    assert any(m == "POST" and p.endswith("/clone") for m, p, _ in pve.requests)
    assert marked_vms(pve, vm.pk) == []
    trail = list(
        AuditEvent.objects.filter(object_type="vm", object_id=vm.pk)
        .order_by("timestamp", "id")
        .values_list("action", "actor_name")
    )
    assert ("approved", "system:self-test") in trail
    assert [a for a, _ in trail][-1] == "deleted"
    # The throw-away tenant has a small quota and its own network.
    tenant = Tenant.objects.get(slug="selftest")
    assert tenant.quota.vcpus == 4 and tenant.networks.count() == 1


def test_self_test_twice_reuses_the_tenant(demo_stack, admin_user):
    for _ in range(2):
        run = selftest.start(admin_user)
        assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.PASSED
    assert Tenant.objects.filter(slug="selftest").count() == 1
    assert VMRequest.objects.filter(origin=Origin.SELFTEST, state=State.DELETED).count() == 2


def test_self_test_fails_clearly_when_fakepve_is_stopped(demo_stack, admin_user):
    stop_fakepve(demo_stack)
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.FAILED
    result = steps(run)
    assert result["capi_provider"]["status"] == "passed"
    assert result["proxmox_api"]["status"] == "failed"
    message = result["proxmox_api"]["message"]
    assert message.startswith("Proxmox endpoint demo does not answer")
    assert "nodes:" in message  # which call failed, and the connection error behind it
    for name in ("create_vm", "verify_vm", "delete_vm"):
        assert result[name]["status"] == "skipped" and "'proxmox_api' failed" in result[name]["message"]
    assert not VMRequest.objects.filter(origin=Origin.SELFTEST).exists()  # nothing was ordered


def test_self_test_stops_at_an_unavailable_proxmox_cluster(pve, pve_endpoint, management_cluster, admin_user):
    management_cluster(
        objects=[
            capmox_deployment(),
            proxmox_cluster("demo", False, "CredentialsNotFound", "secret capmox-pve-credentials not found"),
        ]
    )
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.FAILED
    result = steps(run)
    assert result["proxmox_cluster"]["status"] == "failed"
    assert "ProxmoxAvailable=False reason CredentialsNotFound" in result["proxmox_cluster"]["message"]
    assert result["create_vm"]["status"] == "skipped"


def test_missing_capmox_crds_fail_the_provider_step(pve, pve_endpoint, management_cluster, admin_user):
    management_cluster(providers=("CAPI",), objects=[capmox_deployment()])
    run = selftest.start(admin_user)
    selftest.execute(run.pk, inline=True)
    message = steps(run)["capi_provider"]["message"]
    assert "proxmoxclusters.infrastructure.cluster.x-k8s.io" in message and "capi-providers-proxmox" in message


def test_without_a_management_cluster_the_cluster_steps_are_skipped(pve, pve_endpoint, settings, admin_user):
    from provisioning.sync import sync_endpoint_templates

    settings.CAPI_KUBECONFIG = ""
    sync_endpoint_templates(pve_endpoint)
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.PASSED
    result = steps(run)
    assert result["capi_provider"]["status"] == result["proxmox_cluster"]["status"] == "skipped"
    assert "CAPI_KUBECONFIG" in result["capi_provider"]["message"]
    assert result["delete_vm"]["status"] == "passed"


def test_a_failed_provisioning_is_reported_and_cleaned_up(demo_stack, admin_user):
    pve = demo_stack
    pve.fail("POST", "/nodes/{node}/qemu/{vmid}/clone", error="clone_failed")
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.FAILED
    result = steps(run)
    assert result["create_vm"]["status"] == "failed"
    assert result["create_vm"]["message"].startswith("Provisioning failed: Clone template failed: ")
    assert result["verify_vm"]["status"] == "skipped"
    assert result["delete_vm"]["status"] == "passed"  # the request is closed, nothing left behind
    run.refresh_from_db()
    assert run.vm_request.state == State.DELETED


def test_waiting_for_a_worker_is_bounded(demo_stack, admin_user, settings):
    settings.SELFTEST_TIMEOUT = 0.3
    settings.SELFTEST_POLL_SECONDS = 0.05
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=False) == SelfTestRun.Status.FAILED  # no worker in this test
    result = steps(run)
    assert result["create_vm"]["message"] == (
        "The test VM was not provisioned within 0.3 s (state: approved). No worker picked up the hand-off."
    )
    assert result["delete_vm"]["status"] == "passed"
    run.refresh_from_db()
    assert run.vm_request.state == State.DELETED


def test_a_run_is_executed_once(demo_stack, admin_user):
    run = selftest.start(admin_user)
    selftest.execute(run.pk, inline=True)
    assert selftest.execute(run.pk, inline=True) == SelfTestRun.Status.PASSED  # duplicate delivery: no new VM
    assert VMRequest.objects.filter(origin=Origin.SELFTEST).count() == 1


# --- the admin page -----------------------------------------------------------------------------------------


def test_self_test_page_is_for_staff_only(client, member):
    client.force_login(member)
    assert client.get("/architecture/admin/selftest/").status_code == 403
    assert client.post("/architecture/admin/selftest/start/").status_code == 403
    assert client.get("/architecture/admin/selftest/steps/").status_code == 403
    assert not SelfTestRun.objects.exists()


def test_start_queues_one_run_and_the_page_polls_it(
    client, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("architecture.views.send", lambda name, *args: sent.append((name, *args)))
    client.force_login(admin_user)
    page = client.get("/architecture/admin/selftest/").content.decode()
    assert "Run platform self-test" in page and "No runs yet" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/architecture/admin/selftest/start/")
    run = SelfTestRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"?run={run.pk}")
    assert sent == [("architecture.tasks.run_selftest", run.pk)]
    assert run.status == "queued" and run.started_by == admin_user
    # A second click while it runs starts nothing.
    client.post("/architecture/admin/selftest/start/")
    assert SelfTestRun.objects.count() == 1
    partial = client.get(f"/architecture/admin/selftest/steps/?run={run.pk}").content.decode()
    assert 'hx-trigger="every' in partial and 'data-step="create_vm"' in partial


def test_finished_run_is_shown_without_polling(demo_stack, client, admin_user):
    run = selftest.start(admin_user)
    selftest.execute(run.pk, inline=True)
    client.force_login(admin_user)
    partial = client.get("/architecture/admin/selftest/steps/").content.decode()
    assert 'data-status="passed"' in partial and "hx-trigger" not in partial
    assert partial.count('data-status="passed"') == 7  # the run and its six steps


def test_stale_runs_are_failed(db, admin_user):
    from datetime import timedelta

    from django.utils import timezone

    run = selftest.start(admin_user)
    run.status = SelfTestRun.Status.RUNNING
    run.steps[3]["status"] = "running"
    run.save()
    SelfTestRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(days=1))
    assert selftest.active_run() is None
    run.refresh_from_db()
    assert run.status == "failed" and run.steps[3]["message"] == "The worker stopped during this step."


# --- with a real Celery worker ------------------------------------------------------------------------------

WORKER_REDIS_URL = "redis://127.0.0.1:6379/14"  # not db 15: the provisioning tests' worker purges that one


@pytest.fixture
def redis_worker(transactional_db):
    """A Celery worker (threads) on Redis, consuming the provisioning tasks; skipped without Redis.

    Other test sessions may use the same Redis at the same time: every key of this session carries its own prefix,
    so no session takes (or purges) another's messages."""
    import os
    import uuid

    from celery.contrib.testing.worker import start_worker
    from kombu import Connection

    from portal.celery import app

    options = {"global_keyprefix": f"arch-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"}
    try:
        with Connection(WORKER_REDIS_URL, connect_timeout=1, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {WORKER_REDIS_URL}: {exc}")
    before = app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.task_always_eager = WORKER_REDIS_URL, False
    app.conf.broker_transport_options = options
    app._pool, app.amqp._producer_pool = None, None
    try:
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
        ):
            yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options = before
        app._pool, app.amqp._producer_pool = None, None
        with Connection(WORKER_REDIS_URL) as conn:  # leave nothing of this session in Redis
            client = conn.default_channel.client
            for key in client.scan_iter(match=options["global_keyprefix"] + "*"):
                client.delete(key)


def test_self_test_passes_with_a_real_worker(demo_stack, redis_worker, admin_user, settings):
    """The production path: the hand-off after approval and the delete task go through the broker to a worker;
    the self-test only waits for the database to show the result."""
    settings.SELFTEST_TIMEOUT = 60
    settings.SELFTEST_POLL_SECONDS = 0.1
    run = selftest.start(admin_user)
    assert selftest.execute(run.pk, inline=False) == SelfTestRun.Status.PASSED, steps(run)
    run.refresh_from_db()
    assert run.vm_request.state == State.DELETED
    assert marked_vms(demo_stack, run.vm_request.pk) == []
