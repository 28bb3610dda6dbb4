"""Windows guests: sysprep answer files and storage/NIC drivers."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for disk in ctx.disks:
        if disk.volume_type == "sysprep":
            found.append(("sysprep answer file is not converted (use cloudbase-init + configdrive2)",
                          disk.volume_path))  # fmt: skip
    if ctx.is_windows:
        buses = sorted({d.bus for d in ctx.disks if not d.is_cloud_init})
        found.append(
            (f"Windows guest: keep disk bus ({', '.join(buses) or 'none'}) and NIC model or install VirtIO drivers "
             "first (INACCESSIBLE_BOOT_DEVICE otherwise)", ctx.path("domain"))
        )  # fmt: skip
    return found


RULE = Rule("windows", "Warning", "Windows / sysprep", check)
