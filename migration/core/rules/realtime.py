"""Realtime vCPU scheduling has no Proxmox counterpart."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if ctx.cpu.get("realtime") is not None:
        return [("realtime vCPU tuning is dropped", ctx.path("domain.cpu.realtime"))]
    if ctx.it("cpu", "realtime") is not None:
        return [("instancetype requests realtime tuning; dropped", ctx.source.vm_path)]
    return []


RULE = Rule("realtime", "Warning", "Realtime CPU", check)
