"""Watchdog devices map to qm watchdog."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    watchdog = ctx.devices.get("watchdog")
    if watchdog is None:
        return []
    if watchdog.get("i6300esb") is None:
        return [("watchdog model is not i6300esb; not converted", ctx.path("domain.devices.watchdog"))]
    return [("watchdog converted to i6300esb; the action is run by Proxmox, not KubeVirt",
             ctx.path("domain.devices.watchdog"))]  # fmt: skip


RULE = Rule("watchdog", "Information", "Watchdog", check)
