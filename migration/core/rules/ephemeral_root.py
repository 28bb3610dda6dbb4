"""containerDisk or kernel-boot roots are not persistent data; they map to a Proxmox template."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    kernel = (ctx.domain.get("firmware") or {}).get("kernelBoot")
    if kernel is not None:
        found.append(
            ("kernel boot from a container image has no Proxmox equivalent (only args: -kernel); "
             "build a template with the kernel installed", ctx.path("domain.firmware.kernelBoot"))
        )  # fmt: skip
    boot = ctx.boot_disk
    if boot is not None and boot.volume_type == "containerDisk":
        image = boot.volume["containerDisk"].get("image")
        mapped = image in ctx.mappings.templates
        how = "mapped to a template" if mapped else "not in the template map"
        found.append(
            (f"root disk is the ephemeral containerDisk {image} ({how}); the disk plan extracts the image",
             boot.volume_path)
        )  # fmt: skip
    return found


RULE = Rule("ephemeral-root", "Warning", "containerDisk or kernel boot root", check)
