"""Kubernetes scheduling constraints (node selectors, affinity, tolerations)."""

from . import Rule

_FIELDS = ("nodeSelector", "affinity", "tolerations", "topologySpreadConstraints")


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"{key} has no Proxmox equivalent; choose the target node (or HA group) by hand", ctx.path(key))
        for key in _FIELDS
        if ctx.vmi.get(key)
    ]


RULE = Rule("placement", "Warning", "Node affinity, selectors and tolerations", check)
