"""Hook sidecars rewrite the libvirt domain; their effect is unknown to the converter."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for key in ("hooks.kubevirt.io/hookSidecars", "kubevirt.io/libvirt-log-filters"):
        if key in ctx.annotations:
            found.append((f"annotation {key} is dropped; its domain changes are not applied", "metadata.annotations"))
    return found


RULE = Rule("hook-sidecar", "Warning", "Hook sidecars", check)
