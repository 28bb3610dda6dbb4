"""GPUs (device-plugin or DRA) need PCI/mdev passthrough on the Proxmox host."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for i, gpu in enumerate(ctx.devices.get("gpus") or []):
        name = gpu.get("deviceName") or gpu.get("claimName") or gpu.get("name")
        found.append(
            (f"GPU {name} needs a Proxmox PCI/mdev resource mapping (hostpciN: mapping=...); not converted",
             ctx.path(f"domain.devices.gpus[{i}]"))
        )  # fmt: skip
    if ctx.instancetype and ctx.instancetype.get("gpus"):
        found.append(("instancetype requests GPUs; map them to hostpci devices by hand", ctx.source.vm_path))
    return found


RULE = Rule("gpu-passthrough", "Critical", "GPU passthrough", check)
