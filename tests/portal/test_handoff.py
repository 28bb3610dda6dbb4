"""The approval hands the request to provisioning only once the approval has committed."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.db import transaction

from portal import services
from portal.models import VMRequest
from portal.states import State

from ..conftest import ED25519_KEY


@pytest.fixture
def published():
    sent = []

    def record(sender=None, body=None, **kwargs):
        sent.append((sender, body[0] if isinstance(body, tuple) else body))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def order(acme, template, member):
    vm = VMRequest(
        tenant=acme,
        name="handoff",
        template=template,
        sockets=1,
        cores=1,
        memory_mib=1024,
        disk_gib=10,
        network=acme.networks.get(),
        ssh_keys=ED25519_KEY,
    )
    return services.submit_vm(vm, actor=member)


@pytest.mark.django_db
def test_task_is_sent_only_after_commit(
    acme, template, member, admin_user, published, django_capture_on_commit_callbacks
):
    vm = order(acme, template, member)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.approve(vm, actor=admin_user)
    assert published == []  # still inside the (test) transaction: nothing may be on the broker yet
    for callback in callbacks:
        callback()
    assert published == [("provisioning.tasks.provision_vm", [vm.pk])]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_approval_sends_nothing(acme, template, member, admin_user, published):
    vm = order(acme, template, member)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.approve(vm, actor=admin_user)
        raise RuntimeError("the surrounding transaction fails after the approval")
    assert published == []
    assert VMRequest.objects.get(pk=vm.pk).state == State.PENDING_APPROVAL
    services.approve(VMRequest.objects.get(pk=vm.pk), actor=admin_user)
    assert published == [("provisioning.tasks.provision_vm", [vm.pk])]
