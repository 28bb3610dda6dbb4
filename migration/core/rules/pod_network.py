"""The Kubernetes pod network has no Proxmox equivalent."""

from ..qm import network_target
from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for nic in ctx.nics:
        if nic.network_type != "pod":
            continue
        target, mapped = network_target(ctx, nic)
        how = "mapped" if mapped else "not in the network map; default"
        auto = " (auto-attached by KubeVirt)" if nic.autoattached else ""
        found.append(
            (f"pod network{auto} ({nic.binding}) {how} to bridge {target.bridge}; pod IP, masquerade NAT and "
             "Services in front of the VM do not carry over", nic.path)
        )  # fmt: skip
    return found


RULE = Rule("pod-network", "Warning", "Pod network", check)
