"""capmox manages only the boot volume; additional disks need another path."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    boot = ctx.boot_disk
    data = [d for d in ctx.disks if d is not boot and not d.is_cloud_init and d.device != "cdrom" and d.volume]
    return [(f"extra disk {d.name}: native config keeps it; capmox has only a boot volume", d.path) for d in data]


RULE = Rule("extra-disks", "Warning", "Extra disks", check)
