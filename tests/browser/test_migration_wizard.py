"""The migration wizard in Chromium: a multi-VM export with one Critical concern, through to a running fakepve VM.

The Critical concern blocks Next until that VM is deselected; submitting puts the VMs in the approval queue; an
admin approves them in the browser; the provisioning pipeline runs inline against fakepve and the VMs run there.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import yaml

from devstack.kubeapi.pytest_plugin import kubeapi  # noqa: F401
from migration.models import MigrationPlan
from portal.models import Origin, ProxmoxEndpoint, VMRequest
from portal.states import State

from ..conftest import ED25519_KEY
from ..migration_wizard.manifests import multi_vm_docs
from .conftest import login, logout

# serialized_rollback: the flush after this test must not wipe the catalog rows other browser tests rely on.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
SECRET_ENV = "TEST_MIGRATION_PVE_SECRET"


@pytest.fixture
def demo_stack(fakepve, fakepve_cafile, monkeypatch, settings, acme):
    """acme on the fakepve demo inventory (two nodes, storages, pool `portal`, synced templates)."""
    from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, populate
    from provisioning.proxmox.endpoints import forget_clients
    from provisioning.sync import sync_endpoint_templates

    pve = populate(fakepve)
    monkeypatch.setenv(SECRET_ENV, DEMO_TOKEN_SECRET)
    settings.PROVISIONING_TASK_POLL_INTERVAL = 0.01
    settings.PROVISIONING_AGENT_WAIT = 0.05
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.01
    forget_clients()
    endpoint = ProxmoxEndpoint.objects.create(
        name="demo", api_url=pve.url, token_id=DEMO_TOKEN_ID, secret_env=SECRET_ENV, ca_bundle=fakepve_cafile,
        vmid_range_start=100000, vmid_range_end=100999, is_default=True,
    )  # fmt: skip
    acme.endpoint = endpoint
    acme.resource_pool = "portal"
    acme.allowed_nodes = []
    acme.save()
    sync_endpoint_templates(endpoint)
    yield pve
    forget_clients()


@contextmanager
def tasks_inline():
    """Celery tasks (and their chains) run in this thread, as a worker would run them in the demo stack."""
    from portal.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


def next_button(page):
    return page.locator("#next-button")


def autosaved(page, step_path: str, change) -> None:
    """Make a change and wait until htmx saved it and swapped the re-rendered step in."""
    with page.expect_response(lambda r: r.request.method == "GET" and r.url.endswith(step_path)):
        change()
    page.wait_for_timeout(100)  # htmx settles the swap


def test_wizard_to_running_vm(page, live_server, shot, member, admin_user, acme, demo_stack):
    from provisioning import tasks

    base = live_server.url
    login(page, base, "bob")
    page.get_by_role("link", name="Migration").click()
    page.get_by_role("link", name="New migration plan").click()
    page.get_by_label("Name").fill("shop from kv-prod")
    page.get_by_role("button", name="Create plan").click()

    # 1. Source: paste a three-VM export; one VM has a GPU (Critical).
    page.get_by_label("Manifests (YAML or JSON)").fill(yaml.safe_dump_all(multi_vm_docs(), sort_keys=False))
    shot(page, "migration-1-source")
    page.get_by_role("button", name="Read manifests").click()
    page.wait_for_url("**/select/")

    # 2. Select VMs: the Critical concern blocks Next until the VM is deselected.
    assert page.locator("tr[data-vm='shop/gpu'] [data-critical]").inner_text() == "1 Critical"
    assert next_button(page).is_disabled()
    assert "gpu has 1 Critical concern" in page.inner_text("#critical-box")
    shot(page, "migration-2-vms-blocked")
    autosaved(page, "/select/", lambda: page.get_by_label("Select shop/gpu").uncheck())
    page.wait_for_selector("#next-button:not([disabled])")
    assert page.locator("#critical-box").count() == 0
    assert not MigrationPlan.objects.get().items.get(name="gpu").selected  # saved on the server
    shot(page, "migration-2-vms")
    next_button(page).click()
    page.wait_for_url("**/network/")

    # 3. Network map: both source networks must be mapped before Next.
    assert next_button(page).is_disabled()
    network = acme.networks.get()
    autosaved(page, "/network/", lambda: page.get_by_label("Target for pod").select_option(str(network.pk)))
    assert next_button(page).is_disabled()
    autosaved(page, "/network/", lambda: page.get_by_label("Target for shop/lan").select_option(str(network.pk)))
    page.wait_for_selector("#next-button:not([disabled])")
    shot(page, "migration-3-network")
    next_button(page).click()
    page.wait_for_url("**/storage/")

    # 4. Storage and template map.
    page.get_by_label("Storage for fast").fill("local-lvm")
    autosaved(page, "/storage/", lambda: page.get_by_label("Storage for fast").press("Tab"))
    template = page.get_by_label("Template for https://images.example/debian.qcow2")
    autosaved(page, "/storage/", lambda: template.select_option(label="ubuntu-24.04 (VMID 9000 on pve1)"))
    page.wait_for_selector("#next-button:not([disabled])")
    shot(page, "migration-4-storage")
    next_button(page).click()
    page.wait_for_url("**/target/")

    # 5. Target: names and SSH keys.
    page.get_by_label("Name for shop/web").fill("kv-web")
    page.get_by_label("Name for shop/db").fill("kv-db")
    page.get_by_label("SSH keys").fill(ED25519_KEY)
    shot(page, "migration-5-target")
    next_button(page).click()
    page.wait_for_url("**/review/")

    # 6. Review: concerns, side-by-side YAML with highlights, disk plan, quota.
    web = page.locator("section[data-vm='shop/web']")
    assert "Pod network" in web.inner_text() or web.locator("[data-concern]").count() > 0
    assert web.locator(".yaml .changed").count() > 0
    assert "0 + 6 / 16" in page.inner_text("#review-quota")
    shot(page, "migration-6-review")
    page.get_by_role("button", name="Submit 2 VMs for approval").click()
    page.wait_for_url("**/progress/")
    assert "Submitted 2 request(s)" in page.inner_text(".messages")
    vms = {vm.name: vm for vm in VMRequest.objects.all()}
    assert set(vms) == {"kv-web", "kv-db"}
    assert all(vm.origin == Origin.MIGRATION and vm.state == State.PENDING_APPROVAL for vm in vms.values())
    shot(page, "migration-7-progress-pending")
    progress_url = page.url
    logout(page)

    # 7. An admin approves both in the normal approval queue.
    login(page, base, "admin")
    for name in ("kv-web", "kv-db"):
        page.get_by_role("link", name="Approvals").click()
        page.get_by_role("link", name=name).click()
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/approvals/")

    # 8. The provisioning pipeline runs (inline here, a worker in the demo stack); the VMs run in fakepve.
    for vm in VMRequest.objects.all():
        assert vm.state == State.APPROVED
        with tasks_inline():
            tasks.provision_vm.delay(vm.pk)
        vm.refresh_from_db()
        assert vm.state == State.READY, vm.reason
    web = VMRequest.objects.get(name="kv-web")
    assert demo_stack.vm(web.proxmox.vmid).status == "running"
    db = VMRequest.objects.get(name="kv-db")
    assert int(demo_stack.vm(db.proxmox.vmid).config["cores"]) == 4

    page.goto(progress_url)
    page.wait_for_selector("#progress-final")
    assert page.locator("tr[data-vm='shop/web'] [data-state]").first.get_attribute("data-state") == State.READY
    shot(page, "migration-8-progress-ready")


def test_source_step_errors_and_live_cluster(page, live_server, shot, member, acme, kubeapi, tmp_path):  # noqa: F811
    import io
    import zipfile

    kubeapi.load_objects(multi_vm_docs())
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="live")
    login(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/migration/{plan.pk}/source/")
    # A zip with a path-traversal entry: a clear message on the step, nothing saved.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.yaml", "kind: VirtualMachine")
    evil = tmp_path / "evil.zip"
    evil.write_bytes(buffer.getvalue())
    page.get_by_label("Manifest files or archives").set_input_files(str(evil))
    page.get_by_role("button", name="Upload and read").click()
    assert "unsafe path" in page.inner_text("#source-error")
    assert not MigrationPlan.objects.get(pk=plan.pk).items.exists()
    shot(page, "migration-source-error")
    # A live cluster: connect with an uploaded kubeconfig, pick the namespace, read its VMs.
    config = kubeapi.write_kubeconfig(tmp_path / "kubeconfig")
    page.get_by_label("Kubeconfig").set_input_files(str(config))
    page.get_by_role("button", name="Connect and list namespaces").click()
    assert "3 VMs: db, gpu, web" in page.inner_text("#namespaces-form")
    assert "A kubeconfig is stored for this plan" in page.inner_text("#cluster-form")
    assert kubeapi.token not in page.content()
    shot(page, "migration-source-cluster")
    page.get_by_role("button", name="Read VMs").click()
    page.wait_for_url("**/select/")
    assert page.locator("tr[data-vm]").count() == 3
