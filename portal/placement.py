"""Placement preview for the approval page: where provisioning would put a VM, from live node capacity."""

from __future__ import annotations

MiB = 1024 * 1024


def preview_placement(obj) -> dict:
    """One `/cluster/resources` call; the same choice rule as the provisioning pipeline (capmox's scheduler)."""
    from provisioning.proxmox import operations as ops
    from provisioning.proxmox.endpoints import client_for
    from provisioning.proxmox.errors import ProxmoxError

    endpoint = obj.tenant.effective_endpoint()
    if endpoint is None:
        return {"error": "The tenant has no Proxmox endpoint and there is no default one."}
    allowed = list(obj.tenant.allowed_nodes or [])
    if obj.kind == "vm":
        memory = obj.memory_mib * MiB
    else:
        groups = list(obj.node_groups.all())
        memory = max((g.memory_mib for g in groups), default=0) * MiB
    try:
        capacities = ops.node_capacity(client_for(endpoint))
    except ProxmoxError as exc:
        return {"error": f"Proxmox could not be asked: {exc.message_user}"}
    nodes = ", ".join(
        f"{c.node} ({'online' if c.online else 'offline'}, {c.free_mem // MiB:,} MiB free, {c.running} running)"
        for c in sorted(capacities.values(), key=lambda c: c.node)
        if not allowed or c.node in allowed
    )
    result = {"endpoint": endpoint.name, "allowed nodes": ", ".join(allowed) or "any", "capacity": nodes or "none"}
    try:
        result["would place on"] = ops.pick_node(capacities, memory, allowed or None)
    except ProxmoxError as exc:
        result["would place on"] = f"nowhere: {exc.message_user}"
    return result
