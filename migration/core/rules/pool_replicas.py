"""A VirtualMachinePool replica becomes one Proxmox VM."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if ctx.source.replica is None:
        return []
    return [(f"replica {ctx.source.replica} of pool {ctx.source.doc.name}; each replica's disks are exported "
             "separately (claim names may carry a replica suffix)", "spec.replicas")]  # fmt: skip


RULE = Rule("pool-replicas", "Information", "VirtualMachinePool replica", check)
