"""Bundle model: parsing the legacy releases format, Helm template neutralisation, errors, curated stack."""

from __future__ import annotations

import pytest

from architecture import stack
from architecture.bundle import (
    MAX_BUNDLE_BYTES,
    MAX_RELEASES,
    PLACEHOLDER,
    BundleError,
    curated_bundle,
    load_bundle,
    load_bundle_file,
    neutralise_templates,
)

from .conftest import bundle_text, entry, make_bundle

TEMPLATED = """\
{{- $cozyConfig := lookup "v1" "ConfigMap" "cozy-system" "cozystack" }}
{{- $oidc := index $cozyConfig.data "oidc-enabled" }}

releases:
- name: cilium
  releaseName: cilium
  chart: cozy-cilium
  namespace: cozy-cilium
  privileged: true
  dependsOn: []

- name: kubeovn
  releaseName: kubeovn
  chart: cozy-kubeovn
  namespace: cozy-kubeovn
  dependsOn: [cilium]
  values:
    cozystack:
      nodesHash: {{ include "cozystack.master-node-ips" . | sha256sum }}
    ipv4:
      POD_CIDR: "{{ index $cozyConfig.data "ipv4-pod-cidr" }}"

- name: dashboard
  releaseName: dashboard
  chart: cozy-dashboard
  namespace: cozy-dashboard
  {{- if eq $oidc "true" }}
  dependsOn: [keycloak, cilium]
  {{- else }}
  dependsOn: []
  {{- end }}
  values:
    {{- toYaml (fromYaml (include "defaults" .)) | nindent 4 }}

{{- if $oidc }}
- name: keycloak
  releaseName: keycloak
  chart: cozy-keycloak
  namespace: cozy-keycloak
  optional: true
  dependsOn: [cilium]
{{- end }}
{{- define "unused" }}
- name: never-rendered
{{- end }}
{{- /* a comment
       spanning lines */ -}}
- name: last
  releaseName: last
  chart: cozy-last
  namespace: cozy-last
"""


def test_parses_fields_in_file_order():
    bundle = make_bundle(
        entry("cilium", privileged=True),
        entry("kubeovn", ["cilium"], optional=True),
        name="demo",
    )
    assert bundle.name == "demo"
    assert bundle.names() == ["cilium", "kubeovn"]
    cilium, kubeovn = bundle.components
    assert cilium.privileged and not cilium.optional
    assert kubeovn.optional and kubeovn.depends_on == ("cilium",)
    assert kubeovn.chart == "cozy-kubeovn" and kubeovn.namespace == "cozy-kubeovn"
    assert bundle.edges() == [("kubeovn", "cilium")]
    assert bundle.dependents("cilium") == ["kubeovn"]


def test_helm_templates_are_neutralised_and_lines_kept():
    bundle = load_bundle(TEMPLATED, name="templated")
    assert bundle.names() == ["cilium", "kubeovn", "dashboard", "keycloak", "last"]
    lines = TEMPLATED.splitlines()
    for component in bundle.components:
        assert lines[component.line - 1] == f"- name: {component.name}"
    kubeovn = bundle.get("kubeovn")
    assert kubeovn.values["cozystack"]["nodesHash"] == PLACEHOLDER
    assert kubeovn.values["ipv4"]["POD_CIDR"] == PLACEHOLDER
    # The if-branch wins over else: the bundle is read as if every condition were true.
    assert bundle.get("dashboard").depends_on == ("keycloak", "cilium")
    assert bundle.get("keycloak").conditional and bundle.get("keycloak").optional
    assert not bundle.get("cilium").conditional
    assert "never-rendered" not in bundle


def test_neutralise_keeps_line_count():
    cleaned, conditional = neutralise_templates(TEMPLATED)
    assert cleaned.count("\n") == TEMPLATED.count("\n")
    assert "{{" not in cleaned
    keycloak_line = TEMPLATED.splitlines().index("- name: keycloak") + 1
    assert keycloak_line in conditional


def test_unterminated_template_is_a_clear_error():
    with pytest.raises(BundleError, match="line 2: unterminated"):
        load_bundle("releases:\n- name: {{ oops\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bundles:\n  system:\n    variant: isp-full\n", "v1 platform values"),
        ("kind: PackageSource\napiVersion: cozystack.io/v1alpha1\n", "PackageSource"),
        ("kind: ConfigMap\napiVersion: v1\n", "Kubernetes object"),
        ("providers:\n  proxmox: true\n", "top-level keys: providers"),
        ("- a\n- b\n", "expected a mapping"),
        ('{{- if .Values.x }}\n{{ include "pkg" . }}\n{{- end }}\n', "nothing is left"),
        ("releases: 5\n", "must be a list"),
        ("releases:\n- just-a-string\n", "line 2: a release entry must be a mapping"),
        ("releases: [\n", "not valid YAML"),
    ],
)
def test_files_that_are_not_bundles_raise_bundle_error(text, expected):
    with pytest.raises(BundleError, match=expected):
        load_bundle(text)


def test_size_and_encoding_limits(tmp_path):
    with pytest.raises(BundleError, match="larger than"):
        load_bundle("#" * (MAX_BUNDLE_BYTES + 1))
    with pytest.raises(BundleError, match="UTF-8"):
        load_bundle(b"releases: []\n\xff\xfe")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BUNDLE_BYTES + 10))
    with pytest.raises(BundleError, match="larger than"):
        load_bundle_file(big)
    with pytest.raises(BundleError, match="cannot read"):
        load_bundle_file(tmp_path / "absent.yaml")


def test_load_bundle_file_names_bundle_after_file(tmp_path):
    path = tmp_path / "paas-proxmox.yml"
    path.write_text(bundle_text(entry("cilium")))
    bundle = load_bundle_file(path)
    assert bundle.name == "paas-proxmox"
    assert bundle.source == str(path)
    assert bundle.flavour == "proxmox"


def test_entry_problems_and_duplicate_keys_are_recorded():
    text = (
        "releases:\n"
        "- name: a\n  chart: cozy-a\n  namespace: x\n  privileged: yes-please\n  dependsOn: a-string\n"
        "- name: b\n  releaseName: b\n  chart: cozy-b\n  namespace: x\n  dependsOn: [a]\n  dependsOn: []\n"
    )
    bundle = load_bundle(text)
    a, b = bundle.components
    assert "missing 'releaseName'" in a.problems
    assert any("privileged" in p for p in a.problems)
    assert "'dependsOn' should be a list" in a.problems
    assert b.duplicate_keys == ("dependsOn",)
    assert b.depends_on == ()  # YAML keeps the last value


def test_templated_dependency_names_are_ignored():
    text = "releases:\n- name: a\n  releaseName: a\n  chart: c\n  namespace: n\n  dependsOn: [b, {{ .Values.x }}]\n"
    assert load_bundle(text).get("a").depends_on == ("b",)


def test_flavour_detection():
    assert make_bundle(entry("cilium"), name="paas-proxmox-custom").flavour == "proxmox"
    assert make_bundle(entry("capi-providers-proxmox"), name="x").flavour == "proxmox"
    assert make_bundle(entry("kubevirt"), name="x").flavour == "kubevirt"
    assert make_bundle(entry("cilium"), name="x").flavour == "generic"


def test_roles_and_layers_come_from_the_catalogue():
    bundle = make_bundle(entry("kamaji"), entry("tenant-rd"), entry("something-odd"))
    assert bundle.get("kamaji").role == "control-plane"
    assert bundle.get("kamaji").layer == "clusters"
    assert "tenant" in bundle.get("tenant-rd").description
    assert bundle.get("something-odd").role == "other"
    assert [layer.id for layer, _ in bundle.by_layer()] == ["platform", "clusters", "services"]


def test_curated_bundle_is_the_proxmox_stack():
    bundle = curated_bundle()
    names = bundle.names()
    assert bundle.flavour == "proxmox"
    assert len(names) == len(bundle.components) == len(stack.CURATED_PAAS_PROXMOX)
    for required in ("fluxcd", "proxmox-csi", "metallb", "capi-providers-proxmox", "capi-providers-ipam", "kamaji"):
        assert required in names
    assert not [n for n in names if "kubevirt" in n]
    # Every dependency of the curated stack is itself in the stack.
    assert all(dep in bundle for c in bundle for dep in c.depends_on)
    # Every role of the issue is represented.
    roles = {c.role for c in bundle}
    assert {"networking", "storage", "capi", "control-plane", "gitops", "monitoring", "databases"} <= roles
    assert "CCM" in bundle.get("proxmox-csi").description
    as_dict = bundle.to_dict()
    assert as_dict["flavour"] == "proxmox" and len(as_dict["components"]) == len(names)


def test_flows_and_comparison_data_are_consistent():
    assert set(stack.FLOWS) == {"kubevirt", "proxmox"}
    kubevirt, proxmox = stack.FLOWS["kubevirt"], stack.FLOWS["proxmox"]
    assert any("virt-launcher" in " ".join(step.objects) for step in kubevirt.steps)
    assert any("QEMU in a pod" in step.objects for step in kubevirt.steps)
    assert any("clone" in " ".join(step.objects) for step in proxmox.steps)
    assert proxmox.steps[-1].objects == ("VM in the hypervisor",)
    aspects = [row.aspect for row in stack.COMPARISON]
    assert aspects == [
        "VM location",
        "Performance",
        "Management",
        "Snapshots",
        "Migration",
        "Resource use",
        "Portability",
        "Complexity",
    ]
    assert all(row.kubevirt and row.proxmox and row.kubevirt != row.proxmox for row in stack.COMPARISON)
    # Every role belongs to exactly one layer.
    assert sorted(stack.ROLE_TO_LAYER) == sorted(stack.ROLES)


def test_hostile_input_stays_cheap():
    # An unterminated action among many braces fails fast (no regex backtracking).
    with pytest.raises(BundleError, match="unterminated"):
        load_bundle("{{" * 400_000)
    # An alias "billion laughs" in string fields is reported, never expanded into text.
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = (
        "\n".join(levels) + "\nreleases:\n- name: *h\n  releaseName: r\n  chart: c\n  namespace: n\n  dependsOn: [*h]\n"
    )
    (component,) = load_bundle(text).components
    assert "'name' should be a string, not a list" in component.problems
    assert "dependsOn item a list is not a name" in component.problems
    assert len(component.name) < 20


def test_too_many_releases_is_rejected():
    entries = [entry(f"c{i}") for i in range(MAX_RELEASES + 1)]
    with pytest.raises(BundleError, match="at most"):
        load_bundle(bundle_text(*entries))
