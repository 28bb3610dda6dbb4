"""Volumes that expose Kubernetes objects or devices Proxmox has no notion of."""

from . import Rule

_K8S_VOLUMES = ("configMap", "secret", "serviceAccount", "downwardAPI", "downwardMetrics", "memoryDump")


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for disk in ctx.disks:
        if disk.volume_type in _K8S_VOLUMES:
            found.append((f"{disk.volume_type} volume {disk.name} has no Proxmox equivalent (attach an ISO)",
                          disk.volume_path))  # fmt: skip
        elif disk.device == "cdrom" and disk.volume is not None:
            found.append((f"CD-ROM {disk.name}: content is not migrated; upload the ISO and attach it", disk.path))
        elif disk.bus == "usb":
            found.append((f"USB disk {disk.name} is attached as SCSI", disk.path))
    return found


RULE = Rule("unsupported-volume", "Warning", "Volume type without Proxmox equivalent", check)
