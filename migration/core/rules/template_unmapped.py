"""The boot source has no Proxmox template in the template map."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    default = ctx.mappings.default_template.describe()
    return [
        (
            f"boot source {origin or 'unknown'} has no template mapping; "
            f"ProxmoxMachineTemplate uses the default {default}",
            path,
        )
        for origin, path in ctx.facts.get("template_unmapped", [])
    ]


RULE = Rule("template-unmapped", "Warning", "Boot source without template mapping", check)
