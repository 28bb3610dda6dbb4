"""Ordering VMs and clusters: validation, quota, approval, cancellation, audit and notifications."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from portal import services
from portal.lifecycle import transition
from portal.models import AuditEvent, AutoApprovalRule, ClusterRequest, Quota, TenantNetwork, VMRequest
from portal.quota import tenant_usage
from portal.states import IllegalTransition, State

from ..conftest import ECDSA_KEY, ED25519_KEY, make_tenant

pytestmark = pytest.mark.django_db

ORDER_URL = reverse("portal:vm-create") + "?tenant=acme"
HUGE_USER_DATA = "#cloud-config\nruncmd:\n" + "".join(f"  - echo {i:08d}\n" for i in range(8000))
ALIAS_BOMB = "#cloud-config\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join('*' + chr(97 + i) for _ in range(9))}]\n" for i in range(12)
)


def post_order(client, user, data):
    client.force_login(user)
    return client.post(ORDER_URL, data)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "Web_1", "DNS-1123 label"),
        ("name", "-web", "DNS-1123 label"),
        ("name", "a" * 64, "at most 63 characters"),
        ("disk_gib", "0", "greater than or equal to 1"),
        ("disk_gib", "5", "at least 10 GiB"),
        ("disk_gib", "999999", "less than or equal to 16384"),
        ("ssh_keys", "ssh-ed25519 AAAAnotbase64!!", "not valid base64"),
        ("ssh_keys", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "Unsupported SSH key type"),
        ("ssh_keys", "notakey", "not an SSH public key"),
        ("ssh_keys", ED25519_KEY + "\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC", "Line 2"),
        ("user_data", "runcmd: [ls]", "must start with “#cloud-config”"),
        ("user_data", "#cloud-config\npackages: [nginx\n", "not valid YAML"),
        ("user_data", "#cloud-config\n- just\n- a list\n", "must be a YAML mapping"),
        ("user_data", HUGE_USER_DATA, "the limit is"),
        ("user_data", ALIAS_BOMB, "too many YAML aliases"),
        ("instance_type", "u9.gigantic", "Unknown instance type"),
        ("template", "99999", "Unknown template"),
        ("ip_address", "10.10.0.5", "outside the range"),
        ("ip_address", "192.168.1.10", "outside the range"),
        ("ip_address", "not-an-ip", "valid IPv4"),
        ("sockets", "3", "cannot be split evenly"),
    ],
)
def test_bad_input_gets_a_field_error_and_saves_nothing(client, member, vm_order, field, value, message):
    overrides = {field: value}
    if field == "sockets":
        overrides.update(instance_type="", vcpus="4", memory_gib="4")
    response = post_order(client, member, vm_order(**overrides))
    assert response.status_code == 422
    assert message in response.content.decode(), response.content.decode()[:200]
    assert not VMRequest.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_vlan_the_tenant_does_not_own_is_refused(client, member, vm_order, globex):
    foreign = TenantNetwork.objects.get(tenant=globex, name="default")
    response = post_order(client, member, vm_order(network=str(foreign.pk)))
    assert response.status_code == 422
    assert "does not belong to this tenant" in response.content.decode()
    assert not VMRequest.objects.exists()


def test_custom_size_needs_vcpus_and_memory(client, member, vm_order):
    response = post_order(client, member, vm_order(instance_type="", vcpus=None, memory_gib=None))
    assert response.status_code == 422
    text = response.content.decode()
    assert "give the number of vCPUs" in text and "give the memory" in text


def test_valid_order_with_several_key_types_and_static_ip(client, member, vm_order):
    user_data = "#cloud-config\npackages: [nginx]\n"
    response = post_order(
        client,
        member,
        vm_order(ssh_keys=f"{ED25519_KEY}\n\n{ECDSA_KEY}\n", ip_address="10.10.0.150", user_data=user_data),
    )
    assert response.status_code == 302
    vm = VMRequest.objects.get()
    assert vm.ssh_key_list() == [ED25519_KEY, ECDSA_KEY]
    assert vm.ip_address == "10.10.0.150"
    assert vm.user_data == user_data
    assert (vm.sockets, vm.cores, vm.memory_mib) == (1, 1, 4096)  # u1.medium
    event = AuditEvent.objects.get()
    assert (event.action, event.to_state, event.actor_name) == ("submitted", State.PENDING_APPROVAL, "bob")
    assert event.after["instance_type"] == "u1.medium"
    assert event.request_id


def test_duplicate_live_name_is_refused_but_a_deleted_name_is_free(client, member, vm_order):
    assert post_order(client, member, vm_order()).status_code == 302
    response = post_order(client, member, vm_order())
    assert response.status_code == 422 and "already has a VM named" in response.content.decode()
    vm = VMRequest.objects.get()
    transition(vm, State.CANCELLED, actor=member)
    assert post_order(client, member, vm_order()).status_code == 302
    assert VMRequest.objects.count() == 2


def test_viewer_cannot_order(client, viewer, vm_order):
    response = post_order(client, viewer, vm_order())
    assert response.status_code == 403
    assert not VMRequest.objects.exists()


def test_order_over_quota_is_refused_with_what_is_left(client, member, vm_order, acme):
    Quota.objects.filter(tenant=acme).update(vcpus=2)
    assert post_order(client, member, vm_order(name="a", instance_type="u1.large")).status_code == 302
    response = post_order(client, member, vm_order(name="b", instance_type="u1.medium"))
    assert response.status_code == 422
    assert "vCPUs: this order needs 1 but only 0 of 2 is left" in response.content.decode()
    assert VMRequest.objects.count() == 1


def test_usage_counts_pending_approved_and_ready_but_not_final_failures(acme, member, vm_order, client):
    for name in ("a", "b", "c", "d"):
        assert post_order(client, member, vm_order(name=name)).status_code == 302
    a, b, c, d = (VMRequest.objects.get(name=n) for n in "abcd")
    transition(b, State.REJECTED, actor=member, reason="no")
    transition(c, State.CANCELLED, actor=member)
    services.approve(d, system_actor="test")
    transition(d, State.PROVISIONING, system_actor="test")
    transition(d, State.FAILED, system_actor="test", reason="boom")
    usage = tenant_usage(acme)
    assert (usage.vms, usage.vcpus, usage.memory_mib, usage.disk_gib) == (1, 1, 4096, 20)
    del a


def test_live_validation_and_quota_preview_do_not_save(client, member, vm_order):
    client.force_login(member)
    data = vm_order(instance_type="u1.xlarge")
    data["_validate"] = "1"
    response = client.post(ORDER_URL, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'hx-swap-oob="true"' in text and "<strong>4</strong>" in text  # the order adds 4 vCPUs to the bar
    assert "<input" not in text  # inputs are never replaced while the user types
    assert not VMRequest.objects.exists()
    preview = client.get(reverse("portal:quota-preview", args=["vm"]), {**vm_order(), "tenant": "acme"})
    assert preview.status_code == 200 and "15 left" in preview.content.decode()  # 16 vCPUs - 1


def test_approve_reject_cancel_transitions_are_audited_and_notified(
    client, member, admin_user, vm_order, django_capture_on_commit_callbacks
):
    post_order(client, member, vm_order(name="one"))
    post_order(client, member, vm_order(name="two"))
    post_order(client, member, vm_order(name="three"))
    one, two, three = (VMRequest.objects.get(name=n) for n in ("one", "two", "three"))
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("portal:approve", args=["vm", one.pk])).status_code == 302
        response = client.post(reverse("portal:reject", args=["vm", two.pk]), {"reason": "  "})
        assert VMRequest.objects.get(pk=two.pk).state == State.PENDING_APPROVAL  # a reason is required
        response = client.post(reverse("portal:reject", args=["vm", two.pk]), {"reason": "Too big for a test"})
    assert response.status_code == 302
    client.force_login(member)
    assert client.post(reverse("portal:vm-cancel", args=[three.pk])).status_code == 302
    states = {vm.name: (vm.state, vm.reason) for vm in VMRequest.objects.all()}
    assert states["one"][0] == State.APPROVED
    assert states["two"] == (State.REJECTED, "Too big for a test")
    assert states["three"][0] == State.CANCELLED
    trail = list(AuditEvent.objects.filter(object_id=two.pk, object_type="vm").order_by("timestamp", "id"))
    assert [(e.action, e.from_state, e.to_state, e.actor_name) for e in trail] == [
        ("submitted", "", State.PENDING_APPROVAL, "bob"),
        (State.REJECTED, State.PENDING_APPROVAL, State.REJECTED, "admin"),
    ]
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["[portal] VM one approved", "[portal] VM two rejected"]
    assert "Too big for a test" in next(m.body for m in mail.outbox if "two" in m.subject)


def test_no_request_can_be_approved_twice(client, member, admin_user, vm_order):
    post_order(client, member, vm_order())
    vm = VMRequest.objects.get()
    services.approve(vm, actor=admin_user)
    with pytest.raises(IllegalTransition):
        services.approve(VMRequest.objects.get(pk=vm.pk), actor=admin_user)
    assert AuditEvent.objects.filter(action=State.APPROVED).count() == 1


def test_illegal_transitions_raise(member, vm_order, client):
    post_order(client, member, vm_order())
    vm = VMRequest.objects.get()
    for target in (State.READY, State.DELETED, State.PROVISIONING):
        with pytest.raises(IllegalTransition):
            transition(vm, target, system_actor="test")
    transition(vm, State.CANCELLED, actor=member)
    with pytest.raises(IllegalTransition):
        services.cancel(VMRequest.objects.get(pk=vm.pk), actor=member)


def test_approval_rechecks_the_quota(client, member, admin_user, vm_order, acme):
    post_order(client, member, vm_order())
    vm = VMRequest.objects.get()
    Quota.objects.filter(tenant=acme).update(memory_gib=2)  # lowered after the order
    with pytest.raises(services.QuotaExceeded):
        services.approve(vm, actor=admin_user)
    assert VMRequest.objects.get(pk=vm.pk).state == State.PENDING_APPROVAL


def test_auto_approval_rule_fires_with_system_actor_and_reason(client, member, vm_order, acme):
    AutoApprovalRule.objects.create(tenant=acme, name="small", kind="vm", max_vcpus=1, max_memory_gib=4)
    post_order(client, member, vm_order(name="small-one"))
    post_order(client, member, vm_order(name="big-one", instance_type="u1.large"))
    small, big = VMRequest.objects.get(name="small-one"), VMRequest.objects.get(name="big-one")
    assert small.state == State.APPROVED and big.state == State.PENDING_APPROVAL
    event = AuditEvent.objects.get(object_id=small.pk, action=State.APPROVED)
    assert event.actor is None and event.actor_name == "system:auto-approval"
    assert event.reason == "Auto-approved by rule 'small'."


def test_auto_approval_respects_the_warn_level(client, member, vm_order, acme):
    AutoApprovalRule.objects.create(tenant=acme, name="any-size", kind="any")
    Quota.objects.filter(tenant=acme).update(vcpus=4, warn_percent=50)
    post_order(client, member, vm_order(name="first", instance_type="u1.large"))  # 2 of 4 = 50 %: warns
    assert VMRequest.objects.get(name="first").state == State.PENDING_APPROVAL


def test_bulk_approve_and_reject(client, member, admin_user, vm_order):
    for name in ("a", "b", "c"):
        post_order(client, member, vm_order(name=name))
    ids = {vm.name: vm.pk for vm in VMRequest.objects.all()}
    client.force_login(admin_user)
    client.post(
        reverse("portal:approvals-bulk"), {"decision": "approve", "selected": [f"vm:{ids['a']}", f"vm:{ids['b']}"]}
    )
    response = client.post(reverse("portal:approvals-bulk"), {"decision": "reject", "selected": [f"vm:{ids['c']}"]})
    assert VMRequest.objects.get(name="c").state == State.PENDING_APPROVAL  # no reason given
    response = client.post(
        reverse("portal:approvals-bulk"), {"decision": "reject", "reason": "batch", "selected": [f"vm:{ids['c']}"]}
    )
    assert response.status_code == 302
    assert {vm.name: vm.state for vm in VMRequest.objects.all()} == {
        "a": State.APPROVED,
        "b": State.APPROVED,
        "c": State.REJECTED,
    }


def test_approval_queue_filters_and_oldest_first(client, admin_user, member, vm_order, globex, template):
    for name in ("old", "new"):
        post_order(client, member, vm_order(name=name))
    client.force_login(admin_user)
    text = client.get(reverse("portal:approvals")).content.decode()
    assert text.index(">old<") < text.index(">new<")
    assert ">old<" not in client.get(reverse("portal:approvals"), {"tenant": "globex"}).content.decode()
    assert ">old<" not in client.get(reverse("portal:approvals"), {"kind": "cluster"}).content.decode()
    assert ">old<" not in client.get(reverse("portal:approvals"), {"age": "1d"}).content.decode()


def test_audit_events_are_append_only(member, vm_order, client):
    post_order(client, member, vm_order())
    event = AuditEvent.objects.get()
    event.reason = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    assert AuditEvent.objects.get().reason == ""


def test_cluster_order_counts_workers_at_max(client, member, acme):
    client.force_login(member)
    network = acme.networks.get(name="default")
    data = {
        "name": "prod",
        "kubernetes_version": str(
            ClusterRequest._meta.get_field("kubernetes_version").related_model.objects.first().pk
        ),
        "control_plane_replicas": "2",
        "network": str(network.pk),
        "ssh_keys": ED25519_KEY,
        "ingress_nginx": "on",
        "groups-TOTAL_FORMS": "1",
        "groups-INITIAL_FORMS": "0",
        "groups-MIN_NUM_FORMS": "1",
        "groups-MAX_NUM_FORMS": "10",
        "groups-0-name": "md0",
        "groups-0-min_replicas": "1",
        "groups-0-max_replicas": "3",
        "groups-0-instance_type": "u1.large",
        "groups-0-disk_gib": "20",
        "groups-0-roles": "ingress-nginx",
    }
    response = client.post(reverse("portal:cluster-create") + "?tenant=acme", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster = ClusterRequest.objects.get()
    group = cluster.node_groups.get()
    assert (group.cores, group.memory_mib, group.max_replicas, group.roles) == (2, 8192, 3, ["ingress-nginx"])
    assert cluster.addons == {"cert_manager": False, "ingress_nginx": True, "monitoring_agents": False}
    usage = tenant_usage(acme)
    assert (usage.clusters, usage.vcpus, usage.memory_mib, usage.disk_gib) == (1, 6, 3 * 8192, 60)
    # Too big a group is refused by the quota: 16 vCPUs left is less than 4 x 8.
    data.update({"name": "big", "groups-0-instance_type": "u1.2xlarge", "groups-0-max_replicas": "4"})
    response = client.post(reverse("portal:cluster-create") + "?tenant=acme", data)
    assert response.status_code == 422 and "vCPUs: this order needs 32" in response.content.decode()
    data.update({"name": "Bad Name", "groups-0-min_replicas": "5", "groups-0-max_replicas": "2"})
    response = client.post(reverse("portal:cluster-create") + "?tenant=acme", data)
    text = response.content.decode()
    assert "DNS-1123" in text and "Max must be at least min" in text
    assert ClusterRequest.objects.count() == 1


def test_child_quota_cannot_exceed_what_is_left_of_the_parent(acme):
    from django.core.exceptions import ValidationError

    share = {"memory_gib": 8, "disk_gib": 100, "vms": 1, "clusters": 0}
    child_a = make_tenant("acmea", parent=acme, quota={**share, "vcpus": 10})
    child_b = make_tenant("acmeb", parent=acme, quota={**share, "vcpus": 1})
    quota = child_b.quota
    quota.vcpus = 7  # acme has 16, acmea holds 10: 6 left
    with pytest.raises(ValidationError) as caught:
        quota.full_clean()
    assert "At most 6" in str(caught.value)
    quota.vcpus = 6
    quota.full_clean()
    del child_a
