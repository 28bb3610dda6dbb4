"""Disks without a volume and interfaces without a network (KubeVirt would reject them)."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = [
        (f"disk {name} has no matching volume; skipped", path) for name, path in ctx.facts.get("missing_volume", [])
    ]
    found += [
        (f"interface {name} has no matching network; default bridge used", path)
        for name, path in ctx.facts.get("missing_network", [])
    ]
    return found


RULE = Rule("broken-reference", "Critical", "Dangling disk or interface", check)
