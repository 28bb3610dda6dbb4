"""A tenant user orders a VM in the browser; an admin approves it; the state change shows."""

from __future__ import annotations

import pytest

from portal.models import VMRequest
from portal.states import State

from ..conftest import ED25519_KEY
from .conftest import login, logout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_then_approve(page, live_server, shot, member, admin_user, template, acme):
    base = live_server.url
    login(page, base, "bob")
    page.get_by_role("link", name="Order a VM").click()
    page.get_by_label("Name").fill("browser-vm")
    # Live validation: a bad SSH key is reported inline before submitting, and nothing is saved.
    page.get_by_label("SSH keys").fill("ssh-ed25519 not-a-key")
    page.get_by_label("Login user").click()
    page.wait_for_selector("#id_ssh_keys_error")
    assert "not valid base64" in page.inner_text("#id_ssh_keys_errors")
    page.get_by_label("SSH keys").fill(ED25519_KEY)
    page.get_by_label("Instance type").select_option("u1.large")
    page.get_by_label("Boot disk (GiB)").fill("30")
    page.get_by_label("Login user").click()
    page.wait_for_function("document.querySelector('#quota-bars').innerText.includes('0 + 2 / 16')")
    page.wait_for_function("document.querySelector('#quota-bars').innerText.includes('0 + 30 / 500')")
    assert page.inner_text("#id_ssh_keys_errors").strip() == ""
    assert not VMRequest.objects.exists()
    shot(page, "order-form")
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url("**/vms/*/")
    assert page.locator("[data-state]").first.get_attribute("data-state") == State.PENDING_APPROVAL
    assert "waits for an admin" in page.inner_text(".messages")
    shot(page, "vm-pending")
    vm_url = page.url
    logout(page)

    login(page, base, "admin")
    page.get_by_role("link", name="Approvals").click()
    page.get_by_role("link", name="browser-vm").click()
    assert "After approval" in page.inner_text("main")
    shot(page, "approval-detail")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/approvals/")
    assert "approved" in page.inner_text(".messages")
    page.goto(vm_url)
    badge = page.locator("#status-panel [data-state]")
    assert badge.get_attribute("data-state") in (State.APPROVED, State.PROVISIONING, State.READY, State.FAILED)
    assert "Approved" in page.inner_text("#main") or "Provisioning" in page.inner_text("#main")
    shot(page, "vm-approved")
    assert VMRequest.objects.get(name="browser-vm").state != State.PENDING_APPROVAL
