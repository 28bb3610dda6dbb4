"""SR-IOV interfaces pass a VF into the guest; Proxmox needs hostpci with a VF mapping."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"interface {nic.name} uses SR-IOV; converted as a bridged NIC, configure hostpciN with a VF mapping",
         nic.path)
        for nic in ctx.nics
        if nic.binding == "sriov"
    ]  # fmt: skip


RULE = Rule("sriov", "Critical", "SR-IOV network interface", check)
