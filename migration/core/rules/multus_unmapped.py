"""Multus networks must be mapped to a bridge/VLAN explicitly."""

from ..qm import network_target
from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for nic in ctx.nics:
        if nic.network_type != "multus":
            continue
        target, mapped = network_target(ctx, nic)
        if not mapped:
            found.append(
                (f"multus network {nic.network_name} is not in the network map; using default bridge {target.bridge}",
                 nic.path)
            )  # fmt: skip
    return found


RULE = Rule("multus-unmapped", "Critical", "Multus network without a mapping", check)
