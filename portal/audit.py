"""Writing audit events. Every state change and admin action goes through `record`."""

from __future__ import annotations

from .middleware import current_request_id
from .models import AuditEvent, Tenant


def actor_label(actor=None, system_actor: str = "") -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return f"system:{system_actor or 'portal'}"


def record(
    action: str,
    obj=None,
    *,
    tenant: Tenant | None = None,
    actor=None,
    system_actor: str = "",
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
    from_state: str = "",
    to_state: str = "",
) -> AuditEvent:
    if tenant is None and obj is not None:
        tenant = getattr(obj, "tenant", None) if not isinstance(obj, Tenant) else obj
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=actor_label(actor, system_actor),
        tenant=tenant,
        object_type=getattr(obj, "kind", "") or (obj._meta.model_name if obj is not None else ""),
        object_id=getattr(obj, "pk", None),
        object_repr=str(obj)[:200] if obj is not None else "",
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        request_id=current_request_id(),
        before=before,
        after=after,
    )
