"""Disk sizes that the input does not state (no PVC/DataVolume object in the input)."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    return [
        (f"size of disk {name} is unknown (include its PVC or DataVolume in the input); no resize planned", path)
        for name, path in ctx.facts.get("disk_size_unknown", [])
    ]


RULE = Rule("disk-size-unknown", "Warning", "Disk size unknown", check)
