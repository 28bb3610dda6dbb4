"""Concurrent orders and approvals on PostgreSQL: the row locks hold the quota and the state machine."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from portal import services
from portal.models import AuditEvent, Quota, VMRequest
from portal.states import IllegalTransition, State

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL row locks (set DATABASE_URL=postgres://...)")


def run_at_once(count: int, work):
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_concurrent_orders_against_room_for_five(acme, member, template):
    Quota.objects.filter(tenant=acme).update(vms=5, vcpus=100, memory_gib=100, disk_gib=1000)
    network = acme.networks.get(name="default")

    def order(index):
        vm = VMRequest(
            tenant=acme,
            name=f"race-{index}",
            template=template,
            sockets=1,
            cores=1,
            memory_mib=1024,
            disk_gib=10,
            network=network,
        )
        return services.submit_vm(vm, actor=member)

    results = run_at_once(20, order)
    accepted = [r for r in results if isinstance(r, VMRequest)]
    refused = [r for r in results if isinstance(r, services.QuotaExceeded)]
    assert len(accepted) == 5 and len(refused) == 15, results
    assert VMRequest.objects.count() == 5
    assert AuditEvent.objects.filter(action="submitted").count() == 5


def test_ten_concurrent_approvals_approve_once(acme, member, admin_user, template):
    vm = services.submit_vm(
        VMRequest(
            tenant=acme,
            name="once",
            template=template,
            sockets=1,
            cores=1,
            memory_mib=1024,
            disk_gib=10,
            network=acme.networks.get(name="default"),
        ),
        actor=member,
    )

    def approve(_index):
        return services.approve(VMRequest.objects.get(pk=vm.pk), actor=admin_user)

    results = run_at_once(10, approve)
    assert sum(isinstance(r, VMRequest) for r in results) == 1, results
    assert sum(isinstance(r, IllegalTransition) for r in results) == 9
    assert VMRequest.objects.get(pk=vm.pk).state == State.APPROVED
    assert AuditEvent.objects.filter(action=State.APPROVED, object_id=vm.pk).count() == 1
