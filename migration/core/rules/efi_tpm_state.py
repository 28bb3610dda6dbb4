"""EFI variables and TPM state live in KubeVirt backend storage and are not exported."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    if ctx.efi is not None:
        found.append(
            ("EFI NVRAM (boot entries) is not exported; the guest boots via \\EFI\\BOOT\\BOOTX64.EFI on a new efidisk0",
             ctx.path("domain.firmware"))
        )  # fmt: skip
    if ctx.tpm is not None:
        found.append(("TPM state is not exported (BitLocker/LUKS keys sealed to it need recovery)",
                      ctx.path("domain.devices.tpm")))  # fmt: skip
    return found


RULE = Rule("efi-tpm-state", "Warning", "EFI variables and TPM state not exported", check)
