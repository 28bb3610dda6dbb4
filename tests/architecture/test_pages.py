"""Architecture pages, the "your request" page and the bundle linter page."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from architecture import stack
from architecture.bundle import curated_bundle
from portal.models import Origin, VMRequest
from portal.states import State

from .conftest import BASE, PROXMOX_ESSENTIALS, bundle_text, entry

pytestmark = pytest.mark.usefixtures("status_cache")

PAGES = [
    "/architecture/",
    "/architecture/stack/",
    "/architecture/graph/",
    "/architecture/flows/",
    "/architecture/journey/",
    "/architecture/status/",
    "/architecture/graph.svg",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_a_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_cdn_and_no_layout_library(client, member, url):
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    scripts = re.findall(r"<script[^>]*src=\"([^\"]+)\"", text)
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert "cdn" not in text.lower()


def test_stack_page_lists_every_component_by_layer(client, member):
    client.force_login(member)
    text = client.get("/architecture/stack/").content.decode()
    bundle = curated_bundle()
    for layer, components in bundle.by_layer():
        if components:
            assert f'id="layer-{layer.id}"' in text and layer.title in text
    for component in bundle:
        assert f'id="component-{component.name}"' in text
    # What each one does comes from the curated catalogue.
    kamaji = bundle.get("kamaji")
    assert kamaji.description in text
    # Layers are shown top (services) first: the order of the anchors follows stack.LAYERS reversed.
    positions = [text.index(f'id="layer-{layer.id}"') for layer, comps in bundle.by_layer() if comps]
    assert positions == sorted(positions, reverse=True)
    assert "No component states yet" in text


def test_stack_page_shows_states_from_the_status_checks(client, member, status_cache):
    from architecture import checks

    status_cache.set(
        checks.CACHE_PREFIX + "cluster",
        [
            {
                "name": "cluster:helmreleases",
                "group": "cluster",
                "label": "Flux",
                "status": "degraded",
                "summary": "",
                "details": {
                    "releases": [{"component": "kamaji", "state": "down"}, {"component": "cilium", "state": "ok"}]
                },
            }
        ],
    )
    client.force_login(member)
    text = client.get("/architecture/stack/").content.decode()
    card = text[text.index('id="component-kamaji"') :]
    card = card[: card.index("</article>")]
    assert "badge-red" in card and ">down<" in card
    svg = client.get("/architecture/graph/").content.decode()
    assert re.search(
        r'class="node [^"]*state-down[^"]*"[^>]*id="node-kamaji"|id="node-kamaji"[^>]*class="node '
        r'[^"]*state-down',
        svg,
    )


def test_graph_is_a_server_side_svg_with_links_to_the_components(client, member):
    client.force_login(member)
    text = client.get("/architecture/graph/").content.decode()
    assert "<svg" in text and "</svg>" in text
    for component in curated_bundle():
        assert f'id="node-{component.name}"' in text
    assert 'href="/architecture/stack/#component-kamaji"' in text
    raw = client.get("/architecture/graph.svg")
    assert raw["Content-Type"].startswith("image/svg+xml")
    assert raw.content.startswith(b"<svg") and b"<script" not in raw.content


def test_flows_page_renders_both_flows_and_the_comparison_from_data(client, member):
    client.force_login(member)
    text = client.get("/architecture/flows/").content.decode()
    from django.utils.html import escape

    for flow in stack.FLOWS.values():
        assert escape(flow.title) in text and escape(flow.vm_location) in text
        for step in flow.steps:
            assert escape(step.action) in text
    aspects = re.findall(r'<th scope="row">([^<]+)</th>', text)
    assert aspects == [row.aspect for row in stack.COMPARISON]
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
    # Side by side: the KubeVirt flow comes first, then Proxmox.
    assert text.index('id="flow-kubevirt"') < text.index('id="flow-proxmox"')


# --- your request ----------------------------------------------------------------------------------------


def make_vm(tenant, user, template, name, state, **extra):
    return VMRequest.objects.create(
        tenant=tenant,
        requested_by=user,
        name=name,
        template=template,
        sockets=1,
        cores=2,
        memory_mib=2048,
        disk_gib=20,
        network=tenant.networks.get(),
        state=state,
        **extra,
    )


def test_journey_follows_the_latest_request_through_the_pipeline(client, acme, member, template):
    from provisioning.models import ProvisionStep, ProxmoxVM, StepState

    make_vm(acme, member, template, "older", State.READY)
    vm = make_vm(acme, member, template, "web-7", State.PROVISIONING)
    ProxmoxVM.objects.create(request=vm, endpoint=template.endpoint, vmid=100123, node="pve1")
    for order, (name, state, result) in enumerate(
        [
            ("reserve_vmid", StepState.DONE, "Reserved VMID 100123"),
            ("clone", StepState.DONE, "Cloned ubuntu-24.04"),
            ("configure", StepState.RUNNING, ""),
            ("resize_disk", StepState.PENDING, ""),
            ("cloud_init", StepState.PENDING, ""),
            ("start", StepState.PENDING, ""),
            ("guest_ready", StepState.PENDING, ""),
        ]
    ):
        ProvisionStep.objects.create(request=vm, name=name, order=order, state=state, result=result)
    client.force_login(member)
    text = client.get("/architecture/journey/").content.decode()
    assert "web-7" in text and "VMID 100123" in text and "Cloned ubuntu-24.04" in text
    assert 'hx-trigger="every' in text  # in flight: the page keeps itself up to date
    items = re.findall(r'<li class="(\w+)"><strong>([^<]+)</strong>', text)
    assert items == [
        ("done", "Tenant"),
        ("done", "Admin"),
        ("done", "Portal worker"),
        ("current", "Proxmox API"),
        ("pending", "Proxmox host"),
    ]
    other = client.get(
        "/architecture/journey/?request={}".format(VMRequest.objects.get(name="older").pk)
    ).content.decode()
    assert "older" in other and 'hx-trigger="every' not in other


def test_journey_of_a_pending_and_a_failed_request(client, acme, member, template):
    vm = make_vm(acme, member, template, "waiting", State.PENDING_APPROVAL)
    client.force_login(member)
    text = client.get("/architecture/journey/").content.decode()
    assert re.findall(r'<li class="(\w+)"><strong>Admin', text) == ["current"]
    assert "Waiting for a platform admin." in text
    VMRequest.objects.filter(pk=vm.pk).update(state=State.FAILED, reason="Clone template failed: disk full")
    text = client.get("/architecture/journey/").content.decode()
    assert "Clone template failed: disk full" in text and 'class="failed"' in text


def test_journey_never_shows_another_tenants_request(client, acme, globex, member, outsider, template):
    vm = make_vm(acme, member, template, "acme-private", State.READY)
    client.force_login(outsider)
    text = client.get("/architecture/journey/").content.decode()
    assert "acme-private" not in text and "no VM request" in text
    assert client.get(f"/architecture/journey/?request={vm.pk}").status_code == 404


def test_journey_ignores_self_test_requests(client, acme, member, template):
    make_vm(acme, member, template, "selftest-1", State.DELETED, origin=Origin.SELFTEST)
    client.force_login(member)
    assert "selftest-1" not in client.get("/architecture/journey/").content.decode()


# --- bundle linter -----------------------------------------------------------------------------------------


def test_linter_is_for_staff_only(client, member):
    client.force_login(member)
    assert client.get("/architecture/admin/lint/").status_code == 403
    assert client.post("/architecture/admin/lint/", {"text": bundle_text(*BASE)}).status_code == 403


def test_pasted_bundle_shows_findings_and_a_marked_graph(client, admin_user):
    text = bundle_text(*BASE, entry("kamaji", ["cert-manager", "ghost"]), entry("cilium"))
    client.force_login(admin_user)
    page = client.post("/architecture/admin/lint/", {"text": text, "flavour": "generic"}).content.decode()
    rules = re.findall(r'<tr data-rule="([\w-]+)">', page)
    assert "duplicate-entry" in rules and "dangling-dependency" in rules and "missing-requirement" in rules
    assert "ghost" in page and 'id="lint-summary"' in page and "badge-red" in page
    assert 'id="node-kamaji"' in page and "issue-error" in page
    assert "releases:" in page  # the pasted text stays in the form


def test_uploaded_file_is_linted_with_the_proxmox_rules(client, admin_user):
    text = bundle_text(*BASE, *PROXMOX_ESSENTIALS, entry("kubevirt", ["cilium"]))
    upload = SimpleUploadedFile("paas-proxmox.yaml", text.encode(), content_type="application/x-yaml")
    client.force_login(admin_user)
    page = client.post("/architecture/admin/lint/", {"file": upload, "flavour": "auto"}).content.decode()
    assert "<strong>paas-proxmox</strong>" in page and "rules: proxmox" in page
    assert '<tr data-rule="kubevirt-in-proxmox">' in page


def test_unreadable_input_is_explained(client, admin_user):
    client.force_login(admin_user)
    page = client.post("/architecture/admin/lint/", {"text": "just: [a, mapping"}).content.decode()
    assert 'id="lint-error"' in page and "Cannot read this bundle" in page
    empty = client.post("/architecture/admin/lint/", {"text": "  "}).content.decode()
    assert "Paste a bundle or choose a file." in empty


def test_oversized_upload_is_refused(client, admin_user):
    big = SimpleUploadedFile("big.yaml", b"releases: []\n" + b"#" * 1_100_000)
    client.force_login(admin_user)
    page = client.post("/architecture/admin/lint/", {"file": big}).content.decode()
    assert 'id="lint-error"' in page and "larger than 1000000 bytes" in page


def test_html_in_a_bundle_is_escaped(client, admin_user):
    text = bundle_text(*BASE, entry("evil", ["<script>alert(1)</script>"]))
    client.force_login(admin_user)
    page = client.post("/architecture/admin/lint/", {"text": text}).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
