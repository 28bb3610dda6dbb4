"""Credentials propagated through the guest agent at runtime."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    if ctx.ssh.agent_users:
        found.append(
            (f"SSH keys injected at runtime by the guest agent for {', '.join(ctx.ssh.agent_users)}; "
             "keys found in the input go to sshkeys (cloud-init default user) instead", ctx.path("accessCredentials"))
        )  # fmt: skip
    for path in ctx.ssh.password_credentials:
        found.append(("password propagated by the guest agent is not converted (set cipassword by hand)", path))
    return found


RULE = Rule("guest-agent-credentials", "Information", "Guest-agent credentials", check)
