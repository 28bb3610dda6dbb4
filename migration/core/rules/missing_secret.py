"""Secrets referenced by cloud-init or access credentials but absent from the input."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    missing = list(ctx.ssh.missing_secrets)
    if ctx.cloud_init is not None:
        missing += ctx.cloud_init.missing_secrets
    return [(f"Secret {name} is not in the input; its content is not converted", path) for name, path in missing]


RULE = Rule("missing-secret", "Warning", "Referenced Secret not in input", check)
