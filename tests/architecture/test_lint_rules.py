"""One test per lint rule, on small crafted bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from architecture import lint as lint_module
from architecture.bundle import curated_bundle, load_bundle
from architecture.lint import RULES, exit_code, lint, strongly_connected

from .conftest import BASE, PROXMOX_ESSENTIALS, entry, make_bundle


def rules_of(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_base_bundle_is_clean():
    assert lint(make_bundle(*BASE)) == []


def test_proxmox_base_is_clean():
    assert lint(make_bundle(*BASE, *PROXMOX_ESSENTIALS, name="paas-proxmox")) == []


def test_curated_stack_lints_clean():
    findings = lint(curated_bundle())
    assert findings == []
    assert exit_code(findings) == 0
    # It is linted with the Proxmox rules (detected from its name and components).
    assert curated_bundle().flavour == "proxmox"


def test_empty_bundle():
    findings = lint(load_bundle("releases: []\n"))
    assert [(f.rule, f.severity) for f in findings] == [("empty-bundle", "error")]


def test_invalid_entry():
    text = "releases:\n- name: a\n  chart: cozy-a\n  namespace: n\n"
    (finding,) = rules_of(lint(load_bundle(text)), "invalid-entry")
    assert finding.component == "a" and "releaseName" in finding.message and finding.line == 2


def test_duplicate_key():
    text = "releases:\n- name: a\n  releaseName: a\n  chart: c\n  namespace: n\n  dependsOn: []\n  dependsOn: []\n"
    (finding,) = rules_of(lint(load_bundle(text)), "duplicate-key")
    assert finding.severity == "warning" and "dependsOn" in finding.message


def test_duplicate_entry():
    findings = lint(make_bundle(*BASE, entry("redis-operator", ["cilium"]), entry("redis-operator", ["cilium"])))
    (finding,) = rules_of(findings, "duplicate-entry")
    assert finding.severity == "error" and finding.component == "redis-operator"
    assert "2 times" in finding.message and "identical" in finding.message
    assert finding.hint


def test_duplicate_release():
    findings = lint(
        make_bundle(*BASE, entry("a", ["cilium"]), entry("b", ["cilium"], releaseName="a", namespace="cozy-a"))
    )
    (finding,) = rules_of(findings, "duplicate-release")
    assert finding.component == "b" and "'a'" in finding.message


def test_dangling_dependency():
    findings = lint(make_bundle(*BASE, entry("dashboard", ["cilium", "keycloak-configure"])))
    (finding,) = rules_of(findings, "dangling-dependency")
    assert finding.component == "dashboard" and "keycloak-configure" in finding.message
    assert finding.severity == "error"


def test_dependency_cycle_and_self_dependency():
    findings = lint(make_bundle(*BASE, entry("a", ["b"]), entry("b", ["c"]), entry("c", ["a"]), entry("d", ["d"])))
    cycles = rules_of(findings, "dependency-cycle")
    assert sorted(f.component for f in cycles) == ["a", "d"]
    messages = {f.component: f.message for f in cycles}
    assert "a -> b -> c -> a" in messages["a"]
    assert "d -> d" in messages["d"]


def test_strongly_connected_components():
    graph = {"a": ["b"], "b": ["a", "c"], "c": [], "d": ["d"]}
    assert sorted(map(sorted, strongly_connected(graph))) == [["a", "b"], ["c"], ["d"]]


def test_duplicate_dependency():
    findings = lint(make_bundle(*BASE, entry("metallb", ["cilium", "cilium"])))
    (finding,) = rules_of(findings, "duplicate-dependency")
    assert finding.severity == "info" and finding.component == "metallb"


def test_missing_requirement_kamaji_without_datastore():
    findings = lint(make_bundle(*BASE, entry("kamaji", ["cert-manager"])))
    (finding,) = rules_of(findings, "missing-requirement")
    assert finding.component == "kamaji" and "etcd" in finding.message
    assert "etcd-operator" in finding.hint


def test_missing_requirement_capi_provider_without_cert_manager():
    entries = [e for e in BASE if e["name"] != "cert-manager"]
    findings = lint(make_bundle(*entries, entry("capi-operator"), entry("capi-providers-core", ["capi-operator"])))
    missing = {
        (f.component, f.message.split(" needs ")[1].split(" (")[0]) for f in rules_of(findings, "missing-requirement")
    }
    assert ("capi-providers-core", "cert-manager") in missing
    assert ("capi-operator", "cert-manager") in missing


def test_requirement_aliases_satisfy():
    # kamaji-etcd is an accepted etcd/datastore provider for Kamaji.
    findings = lint(make_bundle(*BASE, entry("kamaji-etcd"), entry("kamaji", ["cert-manager", "kamaji-etcd"])))
    assert rules_of(findings, "missing-requirement") == []


def test_optional_requirement():
    findings = lint(
        make_bundle(*BASE, entry("etcd-operator", ["cert-manager"], optional=True), entry("kamaji", ["cert-manager"]))
    )
    (finding,) = rules_of(findings, "optional-requirement")
    assert finding.component == "kamaji" and finding.severity == "warning"


def test_undeclared_dependency():
    findings = lint(make_bundle(*BASE, entry("etcd-operator", ["cert-manager"]), entry("kamaji", ["cert-manager"])))
    (finding,) = rules_of(findings, "undeclared-dependency")
    assert finding.component == "kamaji" and finding.severity == "info"
    assert "etcd-operator" in finding.hint
    # Satisfied transitively: no finding.
    findings = lint(
        make_bundle(
            *BASE, entry("etcd-operator", ["cert-manager"]), entry("x", ["etcd-operator"]), entry("kamaji", ["x"])
        )
    )
    assert rules_of(findings, "undeclared-dependency") == []


def test_optional_dependency():
    findings = lint(make_bundle(*BASE, entry("velero", ["cilium"], optional=True), entry("backup", ["velero"])))
    (finding,) = rules_of(findings, "optional-dependency")
    assert finding.component == "backup" and "velero" in finding.message
    # An optional entry depending on an optional one is fine.
    findings = lint(
        make_bundle(*BASE, entry("velero", ["cilium"], optional=True), entry("backup", ["velero"], optional=True))
    )
    assert rules_of(findings, "optional-dependency") == []


def test_core_component_missing():
    entries = [e for e in BASE if e["name"] != "cozystack-controller"]
    (finding,) = rules_of(lint(make_bundle(*entries)), "core-component-missing")
    assert finding.component is None and "cozystack-controller" in finding.message
    assert finding.severity == "warning"


def test_gitops_missing_is_info_generic_and_warning_on_proxmox():
    entries = [e for e in BASE if not str(e["name"]).startswith("fluxcd")]
    (generic,) = rules_of(lint(make_bundle(*entries)), "gitops-missing")
    assert generic.severity == "info"
    (proxmox,) = rules_of(lint(make_bundle(*entries, *PROXMOX_ESSENTIALS, name="paas-proxmox")), "gitops-missing")
    assert proxmox.severity == "warning"


def test_kubevirt_in_proxmox():
    bundle = make_bundle(
        *BASE,
        *PROXMOX_ESSENTIALS,
        entry("kubevirt-operator", ["cilium"]),
        entry("kubevirt", ["kubevirt-operator"]),
        entry("vm-instance-rd"),
        entry("cozy-proxy", ["cilium"]),
        name="paas-proxmox",
    )
    found = {f.component: f.severity for f in rules_of(lint(bundle), "kubevirt-in-proxmox")}
    assert found == {
        "kubevirt-operator": "error",
        "kubevirt": "error",
        "vm-instance-rd": "warning",
        "cozy-proxy": "info",
    }
    # The same components in a non-Proxmox bundle are fine.
    generic = make_bundle(*BASE, entry("kubevirt-operator", ["cilium"]), entry("kubevirt", ["kubevirt-operator"]))
    assert rules_of(lint(generic), "kubevirt-in-proxmox") == []
    # ... unless the Proxmox flavour is forced.
    assert len(rules_of(lint(generic, flavour="proxmox"), "kubevirt-in-proxmox")) == 2


@pytest.mark.parametrize(
    ("removed", "essential"),
    [
        ("proxmox-csi", "Proxmox CSI driver"),
        ("capi-providers-proxmox", "capmox"),
        ("capi-providers-ipam", "IPAM"),
        ("metallb", "MetalLB"),
    ],
)
def test_proxmox_essential_missing(removed, essential):
    entries = [e for e in PROXMOX_ESSENTIALS if e["name"] != removed]
    if removed == "capi-providers-ipam":
        entries = [
            {**e, "dependsOn": ["capi-operator"]} if e["name"] == "capi-providers-proxmox" else e for e in entries
        ]
    findings = lint(make_bundle(*BASE, *entries, name="paas-proxmox"))
    missing = rules_of(findings, "proxmox-essential-missing")
    assert any(essential in f.message for f in missing), missing
    assert all(f.severity == "error" for f in missing)


def test_proxmox_ccm_alias():
    # proxmox-csi bundles the CCM; the 2024 proxmox-csi-operator does not.
    with_csi = make_bundle(*BASE, *PROXMOX_ESSENTIALS, name="paas-proxmox")
    assert not [f for f in lint(with_csi) if "cloud controller" in f.message]
    entries = [e for e in PROXMOX_ESSENTIALS if e["name"] != "proxmox-csi"]
    old = make_bundle(*BASE, *entries, entry("proxmox-csi-operator", ["cert-manager"]), name="paas-proxmox")
    missing = rules_of(lint(old), "proxmox-essential-missing")
    assert [f.message.split(" is missing")[0] for f in missing] == ["Proxmox cloud controller manager"]


def test_proxmox_essential_unclear():
    entries = [e for e in PROXMOX_ESSENTIALS if e["name"] != "capi-providers-proxmox"]
    bundle = make_bundle(*BASE, *entries, entry("capi-providers", ["capi-operator"]), name="paas-proxmox")
    (finding,) = rules_of(lint(bundle), "proxmox-essential-unclear")
    assert finding.component == "capi-providers" and finding.severity == "warning"
    assert rules_of(lint(bundle), "proxmox-essential-missing") == []


def test_optional_essential():
    entries = [{**e, "optional": True} if e["name"] == "metallb" else e for e in PROXMOX_ESSENTIALS]
    (finding,) = rules_of(lint(make_bundle(*BASE, *entries, name="paas-proxmox")), "optional-essential")
    assert finding.component == "metallb"
    core_optional = [{**e, "optional": True} if e["name"] == "cert-manager" else e for e in BASE]
    (finding,) = rules_of(lint(make_bundle(*core_optional)), "optional-essential")
    assert finding.component == "cert-manager"


def test_every_rule_is_exercised_by_this_module():
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [rule for rule in RULES if f'"{rule}"' not in source]
    assert untested == []


def test_findings_are_sorted_worst_first_and_exit_code_follows():
    bundle = make_bundle(*BASE, entry("metallb", ["cilium", "cilium"]), entry("x", ["absent"]))
    findings = lint(bundle)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=lambda s: -lint_module.SEVERITY_RANK[s])
    assert exit_code(findings) == 2
    assert exit_code([f for f in findings if f.severity == "info"]) == 0
    assert exit_code([]) == 0


def test_unknown_flavour_is_rejected():
    with pytest.raises(ValueError, match="flavour"):
        lint(make_bundle(*BASE), flavour="vmware")
