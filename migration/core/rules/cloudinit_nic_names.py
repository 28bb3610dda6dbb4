"""Cloud-init network data that names NICs or matches MACs breaks when devices are renamed."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    cloud = ctx.cloud_init
    if cloud is None or not cloud.network_data:
        return []
    parsed = cloud.network
    found = []
    if parsed.names_interfaces:
        found.append(
            (f"network data names interfaces ({', '.join(parsed.names_interfaces)}); Proxmox virtio NICs appear as "
             "ens18.. - ipconfigN was generated instead", cloud.path)
        )  # fmt: skip
    if parsed.matches_mac:
        found.append(("network data matches MAC addresses; they change unless pinned in netN", cloud.path))
    return found


RULE = Rule("cloudinit-nic-names", "Warning", "Cloud-init depends on NIC names or MACs", check)
