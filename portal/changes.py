"""Scaling and upgrading ready clusters, through approval when the change grows the tenant's footprint."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import audit
from .handoff import send
from .lifecycle import transition
from .models import AutoApprovalRule, ClusterChange, ClusterRequest, KubernetesVersion, NodeGroup
from .quota import QuotaExceeded, Usage, check_fits, cluster_usage, quota_of, tenant_usage
from .states import IllegalTransition, State

APPLY_TASK = "provisioning.tasks.apply_cluster_changes"


class ChangeError(ValueError):
    pass


def _delta(cluster: ClusterRequest, group: NodeGroup | None, new_max: int | None) -> Usage:
    groups = list(cluster.node_groups.all())
    before = cluster_usage(groups)
    if group is not None and new_max is not None:
        for g in groups:
            if g.pk == group.pk:
                g.max_replicas = new_max
    after = cluster_usage(groups)
    return Usage(**{k: max(getattr(after, k) - getattr(before, k), 0) for k in before.__dataclass_fields__})


def request_scale(cluster: ClusterRequest, group: NodeGroup, *, min_replicas: int, max_replicas: int, actor):
    if not (0 <= min_replicas <= max_replicas <= 100) or max_replicas < 1:
        raise ChangeError("Replicas must satisfy 0 ≤ min ≤ max ≤ 100 and max ≥ 1.")
    if (min_replicas, max_replicas) == (group.min_replicas, group.max_replicas):
        raise ChangeError("Nothing to change.")
    change = ClusterChange(
        cluster=cluster,
        kind=ClusterChange.Kind.SCALE,
        node_group=group,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        requested_by=actor,
    )
    return _submit(change, _delta(cluster, group, max_replicas), actor)


def request_version(cluster: ClusterRequest, version: KubernetesVersion, *, actor):
    if version.pk == cluster.kubernetes_version_id:
        raise ChangeError("The cluster already runs that version.")
    if not version.active:
        raise ChangeError("That Kubernetes version is not offered.")
    change = ClusterChange(
        cluster=cluster, kind=ClusterChange.Kind.VERSION, kubernetes_version=version, requested_by=actor
    )
    return _submit(change, Usage(), actor)


def _submit(change: ClusterChange, delta: Usage, actor) -> ClusterChange:
    with transaction.atomic():
        cluster = ClusterRequest.objects.select_for_update().get(pk=change.cluster_id)
        if cluster.state != State.READY:
            raise IllegalTransition(cluster.state, State.PROVISIONING)
        tenant = cluster.tenant
        check_fits(quota_of(tenant), tenant_usage(tenant), delta)
        change.save()
        audit.record(f"change.{change.kind}.requested", cluster, actor=actor, reason=change.describe())
        grows = any(getattr(delta, k) for k in delta.__dataclass_fields__)
        rule = _matching_rule(cluster, delta) if grows else None
        if not grows:
            _apply(change, system_actor="", actor=actor, reason="Does not grow the tenant's footprint.")
        elif rule is not None:
            _apply(change, system_actor="auto-approval", reason=f"Auto-approved by rule '{rule.name}'.")
    return change


def _matching_rule(cluster: ClusterRequest, delta: Usage):
    from .services import rule_matches

    for rule in AutoApprovalRule.objects.filter(tenant=cluster.tenant, enabled=True, kind__in=["any", "cluster"]):
        if rule_matches(rule, cluster, cluster.tenant, delta):
            return rule
    return None


def _apply(change: ClusterChange, *, actor=None, system_actor: str = "", reason: str = "") -> None:
    """Write the change into the request, move it to provisioning and hand it to the workers after commit."""
    cluster = change.cluster
    if change.kind == ClusterChange.Kind.SCALE:
        group = change.node_group
        group.min_replicas, group.max_replicas = change.min_replicas, change.max_replicas
        group.replicas = min(max(group.replicas, group.min_replicas), group.max_replicas)
        group.save(update_fields=["min_replicas", "max_replicas", "replicas"])
        action = "scale"
    else:
        cluster.kubernetes_version = change.kubernetes_version
        cluster.save(update_fields=["kubernetes_version"])
        action = "upgrade"
    change.state = ClusterChange.Decision.APPLIED
    change.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    change.decided_at = timezone.now()
    change.reason = reason
    change.save()
    transition(cluster, State.PROVISIONING, actor=actor, system_actor=system_actor, reason=reason, action=action)
    transaction.on_commit(lambda: send(APPLY_TASK, cluster.pk))


def approve_change(change: ClusterChange, *, actor, reason: str = "") -> None:
    with transaction.atomic():
        change = ClusterChange.objects.select_for_update().select_related("cluster__tenant").get(pk=change.pk)
        if change.state != ClusterChange.Decision.PENDING:
            raise ChangeError(f"This change is already {change.get_state_display().lower()}.")
        cluster = ClusterRequest.objects.select_for_update().get(pk=change.cluster_id)
        if cluster.state != State.READY:
            raise IllegalTransition(cluster.state, State.PROVISIONING)
        delta = _delta(cluster, change.node_group, change.max_replicas) if change.kind == "scale" else Usage()
        check_fits(quota_of(cluster.tenant), tenant_usage(cluster.tenant), delta)
        audit.record(f"change.{change.kind}.approved", cluster, actor=actor, reason=change.describe())
        _apply(change, actor=actor, reason=reason or "Approved.")


def reject_change(change: ClusterChange, *, actor, reason: str) -> None:
    if not reason.strip():
        raise ChangeError("A reason is required to reject a change.")
    with transaction.atomic():
        change = ClusterChange.objects.select_for_update().get(pk=change.pk)
        if change.state != ClusterChange.Decision.PENDING:
            raise ChangeError(f"This change is already {change.get_state_display().lower()}.")
        change.state = ClusterChange.Decision.REJECTED
        change.decided_by, change.decided_at, change.reason = actor, timezone.now(), reason.strip()
        change.save()
        audit.record(f"change.{change.kind}.rejected", change.cluster, actor=actor, reason=reason.strip())


__all__ = ["ChangeError", "QuotaExceeded", "approve_change", "reject_change", "request_scale", "request_version"]
