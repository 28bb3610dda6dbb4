"""A stand-alone VM only runs under capmox when wrapped by a CAPI Machine."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    if ctx.source.cluster_worker:
        return []
    return [("not a cluster worker: the ProxmoxMachineTemplate is only usable under a CAPI MachineDeployment; "
             "user cloud-init moves to the bootstrap config", "")]  # fmt: skip


RULE = Rule("capmox-standalone", "Information", "capmox needs a CAPI wrapper", check)
