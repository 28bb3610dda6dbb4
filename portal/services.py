"""Ordering, approving, rejecting and cancelling requests.

Orders and approvals lock the tenant row, so concurrent orders for one tenant are serialised and the quota
check always sees the orders that committed before it (PostgreSQL; SQLite serialises writers anyway).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from . import audit
from .handoff import start_provisioning
from .lifecycle import transition
from .models import AutoApprovalRule, ClusterRequest, NodeGroup, Tenant, VMRequest
from .quota import (
    QuotaExceeded,
    Usage,
    below_warn,
    check_fits,
    cluster_usage,
    quota_of,
    tenant_usage,
    vm_usage,
)
from .states import IllegalTransition, State

log = logging.getLogger(__name__)

AUTO_APPROVER = "auto-approval"

__all__ = [
    "IllegalTransition",
    "QuotaExceeded",
    "approve",
    "cancel",
    "reject",
    "submit_cluster",
    "submit_vm",
]


def _lock_tenant(tenant_id: int) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant_id)


def submit_vm(vm: VMRequest, *, actor) -> VMRequest:
    """Save a new VM order if it fits the quota, then apply auto-approval rules."""
    with transaction.atomic():
        tenant = _lock_tenant(vm.tenant_id)
        adding = vm_usage(vm)
        check_fits(quota_of(tenant), tenant_usage(tenant), adding)
        vm.state = State.PENDING_APPROVAL
        vm.requested_by = actor if getattr(actor, "is_authenticated", False) else None
        vm.save()
        audit.record("submitted", vm, actor=actor, to_state=vm.state, after=vm.spec_snapshot())
        _auto_approve(vm, tenant, adding)
    return vm


def submit_cluster(cluster: ClusterRequest, node_groups: list[NodeGroup], *, actor) -> ClusterRequest:
    with transaction.atomic():
        tenant = _lock_tenant(cluster.tenant_id)
        adding = cluster_usage(node_groups)
        check_fits(quota_of(tenant), tenant_usage(tenant), adding)
        cluster.state = State.PENDING_APPROVAL
        cluster.requested_by = actor if getattr(actor, "is_authenticated", False) else None
        cluster.save()
        for group in node_groups:
            group.cluster = cluster
            group.save()
        audit.record("submitted", cluster, actor=actor, to_state=cluster.state, after=cluster.spec_snapshot())
        _auto_approve(cluster, tenant, adding)
    return cluster


def _auto_approve(obj, tenant: Tenant, adding: Usage) -> None:
    rules = AutoApprovalRule.objects.filter(tenant=tenant, enabled=True, kind__in=["any", obj.kind]).order_by("name")
    for rule in rules:
        if rule_matches(rule, obj, tenant, adding):
            approve(obj, system_actor=AUTO_APPROVER, reason=f"Auto-approved by rule '{rule.name}'.")
            return


def rule_matches(rule: AutoApprovalRule, obj, tenant: Tenant, adding: Usage) -> bool:
    if rule.max_vcpus is not None and adding.vcpus > rule.max_vcpus:
        return False
    if rule.max_memory_gib is not None and adding.memory_mib > rule.max_memory_gib * 1024:
        return False
    if rule.max_disk_gib is not None and adding.disk_gib > rule.max_disk_gib:
        return False
    if rule.require_below_warn:
        # The order is already counted in the usage: compare usage as it stands.
        return below_warn(quota_of(tenant), tenant_usage(tenant), Usage())
    return True


def approve(obj, *, actor=None, system_actor: str = "", reason: str = ""):
    """Approve a pending request; the quota is re-checked in the same transaction. Hands off after commit."""
    model = type(obj)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=obj.pk)
        if locked.state != State.PENDING_APPROVAL:
            raise IllegalTransition(locked.state, State.APPROVED)
        tenant = _lock_tenant(locked.tenant_id)
        # Usage already includes this pending request; it must still fit (limits may have been lowered).
        used = tenant_usage(tenant)
        quota = quota_of(tenant)
        over = [line for line in _lines(quota, used) if line.exceeds]
        if over:
            raise QuotaExceeded(
                {line.key: f"{line.label}: the tenant would use {line.after:g} of {line.limit:g}." for line in over}
            )
        updated = transition(
            locked,
            State.APPROVED,
            actor=actor,
            system_actor=system_actor,
            reason=reason,
            fields={
                "approved_by": actor if getattr(actor, "is_authenticated", False) else None,
                "approved_at": timezone.now(),
            },
        )
        transaction.on_commit(lambda: start_provisioning(updated.kind, updated.pk))
    obj.state = updated.state
    return updated


def _lines(quota, used):
    from .quota import quota_lines

    return quota_lines(quota, used)


def reject(obj, *, actor, reason: str):
    if not reason.strip():
        raise ValueError("A reason is required to reject a request.")
    return transition(obj, State.REJECTED, actor=actor, reason=reason.strip())


def cancel(obj, *, actor):
    if obj.state != State.PENDING_APPROVAL:
        raise IllegalTransition(obj.state, State.CANCELLED)
    return transition(obj, State.CANCELLED, actor=actor, reason="Cancelled by the requester.")


def bulk_decide(objs, *, actor, decision: str, reason: str = "") -> tuple[list, dict]:
    """Approve or reject many; each in its own transaction. Returns (done, {obj: error})."""
    done, errors = [], {}
    for obj in objs:
        try:
            if decision == "approve":
                done.append(approve(obj, actor=actor, reason=reason))
            else:
                done.append(reject(obj, actor=actor, reason=reason))
        except (IllegalTransition, QuotaExceeded, ValueError) as exc:
            errors[obj] = str(exc)
    return done, errors
