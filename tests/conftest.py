"""Shared fixtures: tenants, people in each role, catalog entries, and helpers to place orders."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from portal.catalog import seed_catalog
from portal.models import (
    Membership,
    OSTemplate,
    ProxmoxEndpoint,
    Quota,
    Role,
    Tenant,
    TenantNetwork,
)

pytest_plugins = ["devstack.kubeapi.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PORTAL_SHARED_DIR", REPO_ROOT.parent / "shared"))

ED25519_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL05fSaM9b80DeFRzylc9C8jONRwie+bSyXLrEwo+iRt demo@portal"
ECDSA_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNv+eEtOmW7rbY1rLLWHC3MDbmFLk+YPpAqzLhNW"
    "ZiKGL4JGVbU+6rw2/JhUdVXakAVIUQ2usY5BlQJGzsd7EL4= ec@test"
)


def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}: upstream schemas and samples are not available here")
    return SHARED


def redis_url() -> str | None:
    """A reachable Redis for tests that run a real Celery worker, or None."""
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    host, port = "127.0.0.1", 6379
    try:
        hostport = url.split("//", 1)[1].split("/", 1)[0]
        host, _, port_text = hostport.rpartition(":")
        port = int(port_text)
    except (IndexError, ValueError):
        return None
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return url
    except OSError:
        return None


def fast_provisioning_settings(settings, *, max_attempts: int) -> None:
    """Short polls, waits and backoffs so pipeline runs against fakepve take well under a second per step
    (production defaults are in provisioning/conf.py)."""
    from provisioning.proxmox.endpoints import forget_clients

    settings.PROVISIONING_TASK_POLL_INTERVAL = 0.01
    settings.PROVISIONING_HTTP_TIMEOUT = 5
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.01
    settings.PROVISIONING_RETRY_CAP_SECONDS = 0.05
    settings.PROVISIONING_MAX_ATTEMPTS = max_attempts
    settings.PROVISIONING_AGENT_WAIT = 0.05
    settings.PROVISIONING_START_TIMEOUT = 5
    settings.PROVISIONING_TASK_TIMEOUT = 30
    forget_clients()


def fakepve_endpoint(pve, cafile: str, monkeypatch, *, name: str = "demo", secret_env: str = "TEST_PVE_TOKEN_SECRET"):
    """A portal ProxmoxEndpoint for a running fakepve with the demo inventory (verified HTTPS, demo API token)."""
    from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET

    monkeypatch.setenv(secret_env, DEMO_TOKEN_SECRET)
    return ProxmoxEndpoint.objects.create(
        name=name,
        api_url=pve.url,
        token_id=DEMO_TOKEN_ID,
        secret_env=secret_env,
        ca_bundle=cafile,
        vmid_range_start=100000,
        vmid_range_end=100999,
        is_default=True,
    )


def make_user(username: str, *, staff: bool = False, approver: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=staff)
    if approver:
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["approve_vmrequest", "approve_clusterrequest"])
        )
    return user


def make_tenant(slug: str, *, quota: dict | None = None, parent: Tenant | None = None, vlan: int = 100) -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=slug.upper(), parent=parent, allowed_nodes=["pve1", "pve2"])
    Quota.objects.create(tenant=tenant, **(quota or {}))
    TenantNetwork.objects.create(
        tenant=tenant,
        name="default",
        bridge="vmbr0",
        vlan=vlan,
        cidr="10.10.0.0/24",
        gateway="10.10.0.1",
        ip_range_start="10.10.0.100",
        ip_range_end="10.10.0.199",
        dns_servers=["1.1.1.1"],
    )
    return tenant


@pytest.fixture
def endpoint(db):
    return ProxmoxEndpoint.objects.create(
        name="pve",
        api_url="https://127.0.0.1:8006",
        token_id="root@pam!portal",
        secret_env="PORTAL_TEST_SECRET",
    )


@pytest.fixture
def template(db, endpoint):
    seed_catalog()  # a transactional test before this one may have flushed the seeded catalog
    return OSTemplate.objects.create(
        name="ubuntu-24.04", endpoint=endpoint, vmid=9000, node="pve1", os_family="ubuntu", min_disk_gib=10
    )


@pytest.fixture
def acme(db):
    seed_catalog()
    return make_tenant("acme", quota={"vcpus": 16, "memory_gib": 64, "disk_gib": 500, "vms": 10, "clusters": 2})


@pytest.fixture
def globex(db):
    return make_tenant("globex", vlan=200)


@pytest.fixture
def member(acme):
    """A tenant user with role `use` in acme."""
    user = make_user("bob")
    Membership.objects.create(user=user, tenant=acme, role=Role.USE)
    return user


@pytest.fixture
def viewer(acme):
    user = make_user("victor")
    Membership.objects.create(user=user, tenant=acme, role=Role.VIEW)
    return user


@pytest.fixture
def outsider(globex):
    """A user of another tenant."""
    user = make_user("gina")
    Membership.objects.create(user=user, tenant=globex, role=Role.ADMIN)
    return user


@pytest.fixture
def admin_user(db):
    return make_user("admin", staff=True, approver=True)


@pytest.fixture
def vm_order(acme, template):
    """Form data for a valid VM order in acme."""

    def build(**overrides):
        data = {
            "name": "web-1",
            "template": str(template.pk),
            "instance_type": "u1.medium",
            "disk_gib": "20",
            "network": str(acme.networks.get(name="default").pk),
            "ssh_keys": ED25519_KEY,
            "run_strategy": "Always",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return build
