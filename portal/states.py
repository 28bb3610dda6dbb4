"""The lifecycle of a request and the resource it becomes, defined once.

Badges, tables, the API and the state machine all read from here.
"""

from django.db import models


class State(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    PROVISIONING = "provisioning", "Provisioning"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"
    CANCELLED = "cancelled", "Cancelled"


# Colour names map to CSS classes `badge-<colour>` in static/portal/portal.css.
COLOURS: dict[str, str] = {
    State.PENDING_APPROVAL: "amber",
    State.APPROVED: "blue",
    State.PROVISIONING: "blue",
    State.READY: "green",
    State.REJECTED: "grey",
    State.FAILED: "red",
    State.DELETING: "amber",
    State.DELETED: "grey",
    State.CANCELLED: "grey",
}

TRANSITIONS: dict[str, frozenset[str]] = {
    State.PENDING_APPROVAL: frozenset({State.APPROVED, State.REJECTED, State.CANCELLED}),
    State.APPROVED: frozenset({State.PROVISIONING, State.FAILED, State.CANCELLED}),
    # PROVISIONING -> PROVISIONING is not a transition; READY -> PROVISIONING is a cluster rollout/scale.
    State.PROVISIONING: frozenset({State.READY, State.FAILED, State.DELETING}),
    State.READY: frozenset({State.PROVISIONING, State.DELETING, State.FAILED}),
    State.FAILED: frozenset({State.PROVISIONING, State.DELETING, State.DELETED}),
    State.DELETING: frozenset({State.DELETED, State.FAILED}),
    State.REJECTED: frozenset(),
    State.DELETED: frozenset(),
    State.CANCELLED: frozenset(),
}

# Nothing will change by itself: the browser stops polling.
FINAL_STATES = frozenset({State.READY, State.REJECTED, State.FAILED, State.DELETED, State.CANCELLED})
# Something is happening in the background: the browser polls.
IN_FLIGHT_STATES = frozenset({State.APPROVED, State.PROVISIONING, State.DELETING})
# These hold quota: running resources and everything approved or waiting for approval.
QUOTA_HOLDING_STATES = frozenset(
    {State.PENDING_APPROVAL, State.APPROVED, State.PROVISIONING, State.READY, State.DELETING}
)
# A name stays taken in its tenant while the resource may exist.
NAME_HOLDING_STATES = QUOTA_HOLDING_STATES | {State.FAILED}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"cannot go from {State(current).label!r} to {State(target).label!r}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def colour(state: str) -> str:
    return COLOURS.get(state, "grey")


def is_final(state: str) -> bool:
    return state in FINAL_STATES
