"""Guest NUMA passthrough mirrors the host topology."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if (ctx.cpu.get("numa") or {}).get("guestMappingPassthrough") is not None:
        return [
            (
                "NUMA passthrough becomes numa: 1 without a host mapping; define numa0.. to pin",
                ctx.path("domain.cpu.numa"),
            )
        ]
    if ctx.it("cpu", "numa"):
        return [("instancetype enables NUMA passthrough; numa: 1 set without host pinning", ctx.source.vm_path)]
    return []


RULE = Rule("numa", "Warning", "NUMA topology", check)
