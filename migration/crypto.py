"""Encryption of per-plan kubeconfigs at rest (Fernet, key derived from SECRET_KEY)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_SALT = b"proxmox-portal/migration"
_INFO = b"kubeconfig-at-rest-v1"


def _fernet() -> Fernet:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO)
    return Fernet(base64.urlsafe_b64encode(kdf.derive(settings.SECRET_KEY.encode())))


def encrypt(data: bytes) -> str:
    return _fernet().encrypt(data).decode("ascii")


def decrypt(token: str) -> bytes:
    """The plaintext; ValueError when the token was not made with this key (e.g. SECRET_KEY rotated)."""
    try:
        return _fernet().decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        raise ValueError("The stored kubeconfig cannot be decrypted; upload it again.") from None
