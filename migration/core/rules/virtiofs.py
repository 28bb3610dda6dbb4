"""virtiofs shares need a Proxmox directory mapping (PVE >= 8.4)."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"virtiofs share {fs.get('name')} is not converted; create a directory mapping and virtiofsN",
         ctx.path(f"domain.devices.filesystems[{i}]"))
        for i, fs in enumerate(ctx.devices.get("filesystems") or [])
    ]  # fmt: skip


RULE = Rule("virtiofs", "Warning", "virtiofs filesystem", check)
