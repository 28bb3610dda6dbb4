"""Downstream machine types such as pc-q35-rhel9.2.0 do not exist in Proxmox QEMU."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    machine = ctx.machine_type
    if machine and machine not in ("q35", "pc-q35") and "rhel" in machine:
        return [(f"machine type {machine} is a RHEL build; using q35", ctx.path("domain.machine.type"))]
    if machine and not machine.startswith(("q35", "pc-q35")):
        return [(f"machine type {machine} is not q35; using q35", ctx.path("domain.machine.type"))]
    return []


RULE = Rule("machine-type", "Warning", "Machine type", check)
