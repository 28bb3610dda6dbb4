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
