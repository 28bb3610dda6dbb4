"""Fixtures for the Cluster API tests: spec factories and the shared upstream CRDs."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from devstack.kubeapi.pytest_plugin import kube_client, kubeapi  # noqa: F401 - fixtures (not a root conftest)
from provisioning.capi.spec import CloneSource, ClusterSpec, NodeGroupSpec, NodeNetwork

REPO_ROOT = Path(__file__).resolve().parents[2]
# ../shared next to the repo; PORTAL_SHARED_DIR overrides it (e.g. pointing elsewhere to check the skips).
SHARED = Path(os.environ.get("PORTAL_SHARED_DIR") or REPO_ROOT / ".." / "shared")
CRD_DIR = SHARED / "crds"


def make_group(name: str = "md0", **overrides) -> NodeGroupSpec:
    values = {
        "name": name,
        "replicas": 2,
        "min_replicas": 1,
        "max_replicas": 5,
        "source": CloneSource(source_node="pve1", template_id=9000),
        "sockets": 1,
        "cores": 2,
        "memory_mib": 4096,
        "disk_gib": 20,
        "storage": "local-lvm",
        "pool": "portal",
        "roles": ("worker",),
    }
    values.update(overrides)
    return NodeGroupSpec(**values)


def make_spec(**overrides) -> ClusterSpec:
    values = {
        "name": "demo",
        "namespace": "tenant-acme",
        "tenant": "acme",
        "request_id": 7,
        "kubernetes_version": "v1.33.4",
        "control_plane_replicas": 2,
        "network": NodeNetwork(
            addresses=("10.20.0.100-10.20.0.150",),
            prefix=24,
            gateway="10.20.0.1",
            dns_servers=("10.20.0.1", "1.1.1.1"),
            bridge="vmbr0",
            vlan=120,
        ),
        "node_groups": (make_group(),),
        "credentials_secret": "capmox-pve-credentials",
        "vmid_range": (100000, 100099),
        "allowed_nodes": ("pve1", "pve2"),
        "ssh_user": "ubuntu",
        "ssh_keys": ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly alice@example",),
    }
    values.update(overrides)
    return ClusterSpec(**values)


def replace(spec, **changes):
    return dataclasses.replace(spec, **changes)


# Shapes the issue asks for: one group, three groups, templateSelector vs templateID, static IP range.
SHAPES = {
    "one-group": lambda: make_spec(),
    "three-groups": lambda: make_spec(
        node_groups=(
            make_group("md0"),
            make_group("ingress", replicas=1, min_replicas=1, max_replicas=2, roles=("ingress-nginx",)),
            make_group("big", replicas=0, min_replicas=0, max_replicas=3, cores=8, memory_mib=32768, disk_gib=100),
        )
    ),
    "template-selector": lambda: make_spec(
        node_groups=(make_group(source=CloneSource(match_tags=("ubuntu-24.04", "k8s"))),)
    ),
    "static-ip-range": lambda: make_spec(
        network=NodeNetwork(
            addresses=("192.168.50.10", "192.168.50.20-192.168.50.29", "192.168.50.64/28"),
            prefix=24,
            gateway="192.168.50.1",
            dns_servers=("192.168.50.2",),
            bridge="vmbr1",
            vlan=None,
        ),
        allowed_nodes=(),
        ssh_user="root",
        ssh_keys=(),
    ),
}


@pytest.fixture
def crd_dir() -> Path:
    if not CRD_DIR.is_dir():
        pytest.skip(f"../shared not found: {CRD_DIR} (upstream CRDs are needed for schema validation)")
    return CRD_DIR


@pytest.fixture(scope="session")
def crd_schemas():
    from provisioning.capi.schema_checks import CrdSchemas

    if not CRD_DIR.is_dir():
        pytest.skip(f"../shared not found: {CRD_DIR} (upstream CRDs are needed for schema validation)")
    return CrdSchemas(CRD_DIR)


@pytest.fixture
def pve(fakepve):
    """fakepve with the demo inventory: nodes pve1/pve2, local-lvm, pool `portal`, token, templates 9000-9002."""
    from devstack.fakepve_demo import populate

    return populate(fakepve)


@pytest.fixture
def pve_credentials(pve, fakepve_cafile):
    """What the portal puts into capmox's credentials Secret for the fake (TLS verified against its CA)."""
    from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET
    from provisioning.capi.apply import ProxmoxCredentials

    return ProxmoxCredentials(
        url=pve.url,
        token_id=DEMO_TOKEN_ID,
        token_secret=DEMO_TOKEN_SECRET,
        insecure=False,
        root_ca=Path(fakepve_cafile).read_text(),
    )


# ------------------------------------------------------------------------------------------- portal models
PVE_SECRET_ENV = "CAPI_TEST_PVE_SECRET"


@pytest.fixture
def pve_endpoint(db, pve, fakepve_cafile, monkeypatch):
    from ..conftest import fakepve_endpoint

    return fakepve_endpoint(pve, fakepve_cafile, monkeypatch, name="demo-pve", secret_env=PVE_SECRET_ENV)


@pytest.fixture
def cluster_order(pve_endpoint):
    """A factory for an approved cluster request in tenant `acme` (one node group by default)."""
    from portal.models import ClusterRequest, KubernetesVersion, NodeGroup, OSTemplate, Tenant, TenantNetwork
    from portal.states import State

    tenant, _ = Tenant.objects.get_or_create(
        slug="acme",
        defaults={"name": "Acme", "endpoint": pve_endpoint, "resource_pool": "portal", "storage": "local-lvm"},
    )
    network, _ = TenantNetwork.objects.get_or_create(
        tenant=tenant,
        name="cluster-net",
        defaults={
            "bridge": "vmbr0",
            "vlan": 120,
            "cidr": "10.20.0.0/24",
            "gateway": "10.20.0.1",
            "ip_range_start": "10.20.0.100",
            "ip_range_end": "10.20.0.150",
            "dns_servers": ["10.20.0.1"],
        },
    )
    template, _ = OSTemplate.objects.get_or_create(
        name="ubuntu-24.04",
        endpoint=pve_endpoint,
        defaults={"vmid": 9000, "node": "pve1", "min_disk_gib": 10, "default_user": "ubuntu"},
    )
    version, _ = KubernetesVersion.objects.get_or_create(version="v1.33.4")

    def build(name="demo", groups=(("md0", 2),), state=State.APPROVED):
        request = ClusterRequest.objects.create(
            tenant=tenant,
            name=name,
            state=state,
            kubernetes_version=version,
            control_plane_replicas=2,
            network=network,
            ssh_keys="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly alice@example\n",
        )
        for group_name, replicas in groups:
            NodeGroup.objects.create(
                cluster=request,
                name=group_name,
                min_replicas=min(1, replicas),
                max_replicas=max(5, replicas),
                replicas=replicas,
                sockets=1,
                cores=2,
                memory_mib=4096,
                disk_gib=20,
                roles=["worker"],
                template=template,
            )
        return request

    return build
