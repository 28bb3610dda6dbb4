"""The one place where a request changes state: locked, checked, audited, notified."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import audit
from .states import IllegalTransition, can_transition


def transition(
    obj,
    to_state: str,
    *,
    actor=None,
    system_actor: str = "",
    reason: str = "",
    action: str = "",
    fields: dict | None = None,
    notify: bool = True,
):
    """Move `obj` to `to_state` under a row lock; raises IllegalTransition if the state machine forbids it.

    `fields` are extra attributes saved in the same update (e.g. approved_by). Returns the locked, updated row.
    """
    model = type(obj)
    with transaction.atomic():
        locked = model.objects.select_for_update().select_related("tenant").get(pk=obj.pk)
        if not can_transition(locked.state, to_state):
            raise IllegalTransition(locked.state, to_state)
        from_state = locked.state
        locked.state = to_state
        locked.state_changed_at = timezone.now()
        update = {"state", "state_changed_at", "updated_at"}
        if reason:
            locked.reason = reason
            update.add("reason")
        for name, value in (fields or {}).items():
            setattr(locked, name, value)
            update.add(name)
        locked.save(update_fields=sorted(update))
        audit.record(
            action or to_state,
            locked,
            actor=actor,
            system_actor=system_actor,
            reason=reason,
            from_state=from_state,
            to_state=to_state,
        )
        if notify:
            from .notifications import notify_state

            transaction.on_commit(lambda: notify_state(model, locked.pk, to_state))
    obj.state = locked.state
    obj.state_changed_at = locked.state_changed_at
    obj.reason = locked.reason
    return locked
