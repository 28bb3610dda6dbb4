"""Fixtures for the architecture tests: crafted bundles and the shared upstream bundle files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from architecture.bundle import Bundle, load_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT / ".." / "shared"
BUNDLES_DIR = SHARED / "cozystack" / "bundles"


def entry(name: str, depends_on: list[str] | None = None, **extra: object) -> dict[str, object]:
    """One release entry in the legacy bundle format."""
    data: dict[str, object] = {
        "name": name,
        "releaseName": name,
        "chart": f"cozy-{name}",
        "namespace": f"cozy-{name}",
        "dependsOn": list(depends_on or []),
    }
    data.update(extra)
    return data


def bundle_text(*entries: dict[str, object]) -> str:
    return yaml.safe_dump({"releases": list(entries)}, sort_keys=False)


def make_bundle(*entries: dict[str, object], name: str = "crafted") -> Bundle:
    return load_bundle(bundle_text(*entries), name=name)


# A small generic platform that lints clean: core + networking + GitOps.
BASE = (
    entry("fluxcd-operator"),
    entry("cilium"),
    entry("kubeovn", ["cilium"]),
    entry("fluxcd", ["fluxcd-operator", "cilium", "kubeovn"]),
    entry("cert-manager", ["cilium", "kubeovn"]),
    entry("cozystack-controller", ["cilium", "kubeovn"]),
)

# The Proxmox essentials, all present and wired (used to isolate single Proxmox rules).
PROXMOX_ESSENTIALS = (
    entry("proxmox-csi", ["cert-manager"]),
    entry("metallb", ["cilium"]),
    entry("capi-operator", ["cert-manager"]),
    entry("capi-providers-ipam", ["capi-operator"]),
    entry("capi-providers-proxmox", ["capi-operator", "capi-providers-ipam"]),
)


@pytest.fixture
def base_entries() -> tuple[dict[str, object], ...]:
    return BASE


@pytest.fixture
def shared_bundles() -> Path:
    if not BUNDLES_DIR.is_dir():
        pytest.skip(f"../shared not found: {BUNDLES_DIR}")
    return BUNDLES_DIR.resolve()


def shared_yaml_files() -> list[Path]:
    if not BUNDLES_DIR.is_dir():
        return []
    return sorted(BUNDLES_DIR.resolve().rglob("*.yaml"))


# --------------------------------------------------------------------------------------------------
# Status page and self-test fixtures (tests/architecture/test_status.py, test_selftest.py, test_pages.py)
# --------------------------------------------------------------------------------------------------

PVE_SECRET_ENV = "TEST_ARCH_PVE_SECRET"


@pytest.fixture
def fast_pipeline(settings):
    """Short polls and waits so pipeline runs against fakepve take well under a second per step."""
    from provisioning.proxmox.endpoints import forget_clients

    from ..conftest import fast_provisioning_settings

    fast_provisioning_settings(settings, max_attempts=2)
    settings.STATUS_CHECK_TIMEOUT = 5
    yield settings
    forget_clients()


@pytest.fixture
def status_cache():
    """Status results are cached between requests; every test starts from an empty cache."""
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def pve(fakepve):
    """fakepve with the demo inventory: nodes pve1/pve2, local/local-lvm/ceph-vm, pool portal, three templates."""
    from devstack.fakepve_demo import populate

    return populate(fakepve)


@pytest.fixture
def pve_endpoint(db, pve, fakepve_cafile, monkeypatch, fast_pipeline):
    """The fake registered as the portal's default endpoint (verified TLS, token secret from the environment)."""
    from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET
    from portal.models import ProxmoxEndpoint

    monkeypatch.setenv(PVE_SECRET_ENV, DEMO_TOKEN_SECRET)
    return ProxmoxEndpoint.objects.create(
        name="demo",
        api_url=pve.url,
        token_id=DEMO_TOKEN_ID,
        secret_env=PVE_SECRET_ENV,
        ca_bundle=fakepve_cafile,
        vmid_range_start=100000,
        vmid_range_end=100999,
        is_default=True,
    )


# name, group, version, kind, plural - what the status checks and the self-test look for.
MANAGEMENT_CRDS = {
    "CAPI": [
        ("cluster.x-k8s.io", "v1beta2", "Cluster", "clusters"),
        ("cluster.x-k8s.io", "v1beta2", "Machine", "machines"),
        ("cluster.x-k8s.io", "v1beta2", "MachineDeployment", "machinedeployments"),
    ],
    "capmox": [
        ("infrastructure.cluster.x-k8s.io", "v1alpha2", "ProxmoxCluster", "proxmoxclusters"),
        ("infrastructure.cluster.x-k8s.io", "v1alpha2", "ProxmoxMachine", "proxmoxmachines"),
        ("infrastructure.cluster.x-k8s.io", "v1alpha2", "ProxmoxMachineTemplate", "proxmoxmachinetemplates"),
    ],
    "Kamaji": [("controlplane.cluster.x-k8s.io", "v1alpha2", "KamajiControlPlane", "kamajicontrolplanes")],
    "IPAM": [
        ("ipam.cluster.x-k8s.io", "v1beta2", "InClusterIPPool", "inclusterippools"),
        ("ipam.cluster.x-k8s.io", "v1beta2", "IPAddressClaim", "ipaddressclaims"),
        ("ipam.cluster.x-k8s.io", "v1beta2", "IPAddress", "ipaddresses"),
    ],
    "Flux": [("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases")],
}


def capmox_deployment(ready: int = 1, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "capmox-controller-manager",
            "namespace": "capmox-system",
            "labels": {"cluster.x-k8s.io/provider": "infrastructure-proxmox"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "capmox"}},
            "template": {"metadata": {"labels": {"app": "capmox"}}, "spec": {"containers": []}},
        },
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
    }


def proxmox_cluster(name: str, available: bool, reason: str, message: str = "", namespace: str = "tenant-acme"):
    return {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha2",
        "kind": "ProxmoxCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
        "status": {
            "conditions": [
                {
                    "type": "ProxmoxAvailable",
                    "status": "True" if available else "False",
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": "2026-11-26T00:00:00Z",
                }
            ]
        },
    }


@pytest.fixture
def management_cluster(settings, tmp_path):
    """A fake management cluster API built from the given providers' CRDs; CAPI_KUBECONFIG points at it.

    Call it: `api = management_cluster(providers=("CAPI", "capmox"), objects=[...])`.
    """
    from devstack.kubeapi import FakeKubeAPI
    from devstack.kubeapi.crds import minimal_crd

    servers = []

    def build(providers=tuple(MANAGEMENT_CRDS), objects=()):
        server = FakeKubeAPI(builtin_crds=False)
        for provider in providers:
            for group, version, kind, plural in MANAGEMENT_CRDS[provider]:
                server.add_crd(minimal_crd(group, version, kind, plural))
        server.start()
        servers.append(server)
        server.load_objects(list(objects))
        settings.CAPI_KUBECONFIG = str(server.write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}"))
        return server

    yield build
    for server in servers:
        server.stop()
