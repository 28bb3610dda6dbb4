"""The linter and the SVG renderer on the real upstream bundles in ../shared (skipped without it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from architecture.bundle import BundleError, load_bundle_file
from architecture.lint import exit_code, lint
from architecture.svg import NODE_H, NODE_W, SVG_NS, compute_layout, node_id, render_svg

from .conftest import BUNDLES_DIR, shared_yaml_files

# Files that are legacy releases bundles (everything else must raise BundleError).
RELEASES_BUNDLES = {
    "distro-full.yaml": 63,
    "distro-hosted.yaml": 25,
    "paas-full.yaml": 87,
    "paas-hosted.yaml": 59,
    "paas-proxmox.yaml": 31,
    "paas-proxmox-custom.yaml": 23,
    "paas-proxmox.2024-05-30.yaml": 18,
}


def rules(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_2024_history_bundle_has_the_duplicate_proxmox_csi_operator(shared_bundles):
    bundle = load_bundle_file(shared_bundles / "history" / "paas-proxmox.2024-05-30.yaml")
    assert bundle.flavour == "proxmox"
    findings = lint(bundle)
    (duplicate,) = rules(findings, "duplicate-entry")
    assert duplicate.component == "proxmox-csi-operator"
    assert duplicate.severity == "error"
    text_lines = (shared_bundles / "history" / "paas-proxmox.2024-05-30.yaml").read_text().splitlines()
    assert text_lines[duplicate.line - 1] == "- name: proxmox-csi-operator"
    # It also lacks the CCM, the IPAM provider and MetalLB, and the Cozystack controller.
    missing = " ".join(f.message for f in rules(findings, "proxmox-essential-missing"))
    assert "cloud controller" in missing and "IPAM" in missing and "MetalLB" in missing
    assert any("cozystack-controller" in f.message for f in rules(findings, "core-component-missing"))
    assert exit_code(findings) == 2


def test_branch_bundle_misses_the_etcd_provider(shared_bundles):
    bundle = load_bundle_file(shared_bundles / "paas-proxmox.yaml")
    findings = lint(bundle)
    kamaji = [f for f in rules(findings, "missing-requirement") if f.component == "kamaji"]
    assert len(kamaji) == 1 and "etcd" in kamaji[0].message
    assert kamaji[0].line == bundle.get("kamaji").line
    # No duplicate entries, no cycles, no dangling targets: the branch fixed the structural defects.
    for rule in ("duplicate-entry", "dependency-cycle", "dangling-dependency"):
        assert rules(findings, rule) == []
    # capmox is hidden inside the generic capi-providers chart, and the IPAM provider is missing.
    assert [f.component for f in rules(findings, "proxmox-essential-unclear")] == ["capi-providers"]
    assert any("IPAM" in f.message for f in rules(findings, "proxmox-essential-missing"))
    assert exit_code(findings) == 2


def test_pr1927_custom_bundle_has_the_same_gaps(shared_bundles):
    findings = lint(load_bundle_file(shared_bundles / "paas-proxmox-custom.yaml"))
    assert [f.component for f in rules(findings, "missing-requirement")] == ["kamaji"]


def test_released_kubevirt_bundle_has_no_errors_but_is_not_proxmox(shared_bundles):
    bundle = load_bundle_file(shared_bundles / "paas-full.yaml")
    assert bundle.flavour == "kubevirt"
    assert [f for f in lint(bundle) if f.severity == "error"] == []
    forced = lint(bundle, flavour="proxmox")
    kubevirt = {f.component for f in rules(forced, "kubevirt-in-proxmox") if f.severity == "error"}
    assert {"kubevirt-operator", "kubevirt", "kubevirt-cdi", "capi-providers-infraprovider"} <= kubevirt


def test_conditional_keycloak_block_is_read(shared_bundles):
    bundle = load_bundle_file(shared_bundles / "paas-full.yaml")
    assert bundle.get("keycloak-configure").conditional
    assert "keycloak-configure" in bundle.get("dashboard").depends_on
    assert rules(lint(bundle), "dangling-dependency") == []


@pytest.mark.parametrize("path", shared_yaml_files() or [None], ids=lambda p: p.name if p else "no-shared")
def test_every_shared_file_renders_or_is_rejected_clearly(path):
    if path is None:
        pytest.skip(f"../shared not found: {BUNDLES_DIR}")
    try:
        bundle = load_bundle_file(path)
    except BundleError as exc:
        assert path.name not in RELEASES_BUNDLES, f"{path.name} should parse: {exc}"
        assert "releases" in str(exc) or "Helm" in str(exc)
        return
    assert RELEASES_BUNDLES.get(path.name) == len(bundle.components)
    svg = render_svg(bundle, links=lambda c: f"/architecture/components/{c.name}/")
    root = ET.fromstring(svg)  # noqa: S314 - our own generated SVG, not untrusted input
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("viewBox") and root.get("width") and root.get("height")
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for name in bundle.names():
        assert node_id(name) in ids, name
    links = list(root.iter(f"{{{SVG_NS}}}a"))
    assert len(links) == len(bundle.names())


def test_shared_releases_bundles_are_all_present(shared_bundles):
    found = {p.name for p in shared_yaml_files()}
    assert set(RELEASES_BUNDLES) <= found


def test_largest_bundle_layout_is_readable(shared_bundles):
    bundle = load_bundle_file(shared_bundles / "paas-full.yaml")
    layout = compute_layout(bundle)
    assert len(layout.nodes) == 87
    boxes = list(layout.nodes.values())
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.x + NODE_W <= layout.width
        for b in boxes[i + 1 :]:
            assert abs(a.x - b.x) >= NODE_W or abs(a.y - b.y) >= NODE_H, (a.name, b.name)
    assert layout.width <= 2400  # wide layers wrap instead of growing to 32 boxes in a row
    # The transitive reduction keeps the picture sparse: far fewer edges than declared dependsOn pairs.
    assert len(layout.edges) < len(bundle.edges()) / 2
