"""Fixed MAC addresses: kept in the native config, impossible with capmox."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"MAC {nic.mac} of {nic.name} is kept in net{nic.index}; capmox cannot pin MACs (guest configs matching "
         "the MAC break on a capmox clone)", nic.path)
        for nic in ctx.nics
        if nic.mac
    ]  # fmt: skip


RULE = Rule("pinned-mac", "Warning", "Pinned MAC address", check)
