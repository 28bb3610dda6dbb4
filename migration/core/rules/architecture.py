"""Proxmox VE runs x86_64 guests."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if ctx.arch != "amd64":
        return [(f"architecture {ctx.arch} is not supported by Proxmox VE (x86_64 only)", ctx.path("architecture"))]
    return []


RULE = Rule("architecture", "Critical", "Non-amd64 architecture", check)
