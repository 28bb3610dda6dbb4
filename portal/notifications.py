"""Emails to requesters when their request is decided or done."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from .states import State

log = logging.getLogger(__name__)

NOTIFY_STATES = {State.APPROVED, State.REJECTED, State.READY, State.FAILED}


def notify_state(model, pk: int, state: str) -> None:
    if state not in NOTIFY_STATES:
        return
    obj = model.objects.select_related("requested_by", "tenant").filter(pk=pk).first()
    if obj is None or obj.requested_by is None or not obj.requested_by.email:
        return
    what = "VM" if obj.kind == "vm" else "Kubernetes cluster"
    label = State(state).label.lower()
    lines = [f"Your {what} {obj.name} in tenant {obj.tenant.slug} is {label}."]
    if obj.reason and state in {State.REJECTED, State.FAILED}:
        lines.append(f"Reason: {obj.reason}")
    lines.append(f"Details: {settings.PORTAL_SITE_URL.rstrip('/')}{obj.get_absolute_url()}")
    try:
        send_mail(
            f"[portal] {what} {obj.name} {label}",
            "\n\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [obj.requested_by.email],
        )
    except OSError:
        # A mail outage must not fail the transition that already committed.
        log.warning("could not send notification for %s %s", obj.kind, obj.pk)
