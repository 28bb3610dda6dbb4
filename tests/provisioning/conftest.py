"""Fixtures: the demo inventory on the fakepve fixture (verified HTTPS), a client, and portal objects."""

from __future__ import annotations

import os
import uuid

import pytest

from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, populate
from provisioning.proxmox.client import ProxmoxClient

SECRET_ENV = "TEST_PVE_TOKEN_SECRET"


@pytest.fixture
def pve(fakepve):
    """fakepve with two nodes, local/local-lvm/ceph-vm storage, pool `portal`, token and three templates."""
    return populate(fakepve)


@pytest.fixture
def px(pve, fakepve_cafile) -> ProxmoxClient:
    return ProxmoxClient(
        pve.url, DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, verify=fakepve_cafile, timeout=5, poll_interval=0.01
    )


def requests_to(pve, method: str, suffix: str) -> list:
    """What the portal sent: fakepve records every (method, path, body)."""
    return [r for r in pve.requests if r[0] == method and r[1].endswith(suffix)]


# ---------------------------------------------------------------------------------------------- portal side
@pytest.fixture(autouse=True)
def fast_provisioning(settings):
    """Short polls and backoffs so fault tests run in seconds."""
    from provisioning.proxmox.endpoints import forget_clients

    from ..conftest import fast_provisioning_settings

    fast_provisioning_settings(settings, max_attempts=3)
    yield
    forget_clients()


@pytest.fixture
def eager():
    """Run Celery tasks inline (chains included) for tests that do not need a real worker."""
    from portal.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def endpoint(db, pve, fakepve_cafile, monkeypatch):
    from ..conftest import fakepve_endpoint

    return fakepve_endpoint(pve, fakepve_cafile, monkeypatch, secret_env=SECRET_ENV)


@pytest.fixture
def tenant(endpoint):
    from portal.models import Quota, Tenant

    tenant = Tenant.objects.create(slug="acme", name="Acme", endpoint=endpoint, resource_pool="portal")
    Quota.objects.create(tenant=tenant, vcpus=200, memory_gib=400, disk_gib=5000, vms=200)
    return tenant


@pytest.fixture
def network(tenant):
    from portal.models import TenantNetwork

    return TenantNetwork.objects.create(
        tenant=tenant,
        name="lan",
        bridge="vmbr0",
        vlan=42,
        cidr="10.20.0.0/24",
        gateway="10.20.0.1",
        ip_range_start="10.20.0.10",
        ip_range_end="10.20.0.200",
        dns_servers=["10.20.0.2"],
    )


@pytest.fixture
def catalog(endpoint):
    """The templates as `sync_templates` records them: name -> OSTemplate."""
    from portal.models import OSTemplate
    from provisioning.sync import sync_endpoint_templates

    sync_endpoint_templates(endpoint)
    return {t.name: t for t in OSTemplate.objects.filter(endpoint=endpoint)}


@pytest.fixture
def user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def make_request(tenant, network, catalog, user):
    """An approved VM request (as the portal leaves it before the hand-off)."""
    from portal.models import VMRequest
    from portal.states import State

    counter = iter(range(1, 10_000))

    def make(**overrides) -> VMRequest:
        values = {
            "tenant": tenant,
            "requested_by": user,
            "name": f"vm{next(counter)}",
            "state": State.APPROVED,
            "sockets": 1,
            "cores": 2,
            "memory_mib": 1024,
            "template": catalog["ubuntu-24.04"],
            "disk_gib": 20,
            "network": network,
            "ssh_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey alice@laptop",
        }
        values.update(overrides)
        return VMRequest.objects.create(**values)

    return make


def portal_vms(pve, request_id: int) -> list:
    """fakepve VMs whose description carries this request's marker."""
    marker = f"portal-request:{request_id}"
    return [vm for vm in pve.vms if marker in str(vm.config.get("description", "")).splitlines()]


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (thread pool) consuming from Redis db 15; skipped when Redis is not reachable."""
    from celery.contrib.testing.worker import start_worker
    from kombu import Connection

    from portal.celery import app

    try:
        with Connection(REDIS_URL, connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    before = app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.task_always_eager = REDIS_URL, False
    # Own key prefix: two test runs sharing this Redis never consume each other's messages.
    app.conf.broker_transport_options = {"global_keyprefix": f"provisioning-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"}
    _reset_pools(app)  # drop connections made for the in-memory test broker
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
    ):
        yield app
    app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options = before
    _reset_pools(app)


def _reset_pools(app) -> None:
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
