"""Validation of what tenants type in: SSH keys and cloud-init user data."""

from __future__ import annotations

import base64
import binascii
import struct

import yaml
from django.core.exceptions import ValidationError

SSH_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}
MAX_SSH_KEYS = 32
MIN_RSA_BITS = 2048


def _read_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated")
    return blob[offset + 4 : end], end


def validate_ssh_public_key(line: str) -> str:
    """Check one OpenSSH public key line; returns it normalised (single spaces)."""
    parts = line.strip().split(None, 2)
    shown = line.strip()[:40] + ("…" if len(line.strip()) > 40 else "")
    if len(parts) < 2:
        raise ValidationError(f"“{shown}” is not an SSH public key: expected “type base64-key [comment]”.")
    key_type, body = parts[0], parts[1]
    if key_type not in SSH_KEY_TYPES:
        raise ValidationError(
            f"Unsupported SSH key type “{key_type[:30]}”: use ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521."
        )
    try:
        blob = base64.b64decode(body, validate=True)
        embedded, offset = _read_string(blob, 0)
    except (binascii.Error, ValueError):
        raise ValidationError(f"The {key_type} key “{shown}” is not valid base64 key data.") from None
    if embedded.decode("ascii", "replace") != key_type:
        raise ValidationError(f"The key data says “{embedded[:30].decode('ascii', 'replace')}”, not {key_type}.")
    try:
        if key_type == "ssh-rsa":
            _exponent, offset = _read_string(blob, offset)
            modulus, offset = _read_string(blob, offset)
            bits = len(modulus.lstrip(b"\x00")) * 8
            if bits < MIN_RSA_BITS:
                raise ValidationError(f"RSA keys need at least {MIN_RSA_BITS} bits; this one has about {bits}.")
        elif key_type == "ssh-ed25519":
            point, offset = _read_string(blob, offset)
            if len(point) != 32:
                raise ValidationError("The ssh-ed25519 key has the wrong length.")
        elif key_type.startswith("ecdsa-"):
            curve, offset = _read_string(blob, offset)
            if curve.decode("ascii", "replace") != key_type.rsplit("-", 1)[1]:
                raise ValidationError("The ECDSA key's curve does not match its type.")
            _point, offset = _read_string(blob, offset)
    except ValueError:
        raise ValidationError(f"The {key_type} key is truncated.") from None
    return " ".join(parts)


def validate_ssh_keys(text: str) -> list[str]:
    """Validate a newline-separated list of keys; all errors are reported, with line numbers."""
    keys, errors = [], []
    lines = [(n, raw) for n, raw in enumerate(text.splitlines(), 1) if raw.strip() and not raw.startswith("#")]
    if len(lines) > MAX_SSH_KEYS:
        raise ValidationError(f"At most {MAX_SSH_KEYS} SSH keys.")
    for number, raw in lines:
        try:
            keys.append(validate_ssh_public_key(raw))
        except ValidationError as exc:
            errors.append(ValidationError(f"Line {number}: {exc.messages[0]}"))
    if errors:
        raise ValidationError(errors)
    return keys


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases beyond a small budget (billion-laughs style input)."""

    max_aliases = 100

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > self.max_aliases:
                raise yaml.YAMLError("too many YAML aliases")
        return super().compose_node(parent, index)


def validate_user_data(text: str, max_bytes: int) -> str:
    """Cloud-init user data: `#cloud-config` YAML (a mapping) or a script starting with `#!`."""
    if not text.strip():
        return ""
    size = len(text.encode())
    if size > max_bytes:
        raise ValidationError(f"User data is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    text = text.replace("\r\n", "\n")
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first.startswith("#!"):
        return text
    if first != "#cloud-config":
        raise ValidationError(
            f"User data must start with “#cloud-config” (YAML) or “#!” (a script); the first line is “{first[:40]}”."
        )
    try:
        data = yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(f"The #cloud-config is not valid YAML{where}: {problem}.") from None
    if data is not None and not isinstance(data, dict):
        raise ValidationError("A #cloud-config must be a YAML mapping (keys like users:, packages:, runcmd:).")
    return text
