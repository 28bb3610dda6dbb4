"""Secure boot (KubeVirt's default when efi: {} is set)."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if ctx.secure_boot:
        return [("secure boot on: efidisk0 gets pre-enrolled Microsoft keys (pre-enrolled-keys=1)",
                 ctx.path("domain.firmware.bootloader"))]  # fmt: skip
    return []


RULE = Rule("secure-boot", "Information", "Secure boot", check)
