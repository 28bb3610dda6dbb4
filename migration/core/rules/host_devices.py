"""Host devices (PCI/USB/NVMe passthrough) are tied to a Kubernetes device plugin."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"host device {dev.get('deviceName') or dev.get('name')} needs hostpciN/usbN passthrough on a chosen node",
         ctx.path(f"domain.devices.hostDevices[{i}]"))
        for i, dev in enumerate(ctx.devices.get("hostDevices") or [])
    ]  # fmt: skip


RULE = Rule("host-device-passthrough", "Critical", "Host device / PCI passthrough", check)
