"""Read a tenant cluster's kubeconfig on demand from the management cluster.

CAPI/Kamaji publish it in the Secret `<cluster>-kubeconfig` (key `value`). The portal never stores it, never
logs it and never caches it: every download reads it again (the caller audits the download).
"""

from __future__ import annotations

import base64

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

SECRET_DATA_KEY = "value"  # noqa: S105 - key name, not a secret


def kubeconfig_secret_name(cluster_name: str) -> str:
    return f"{cluster_name}-kubeconfig"


def fetch_kubeconfig(api_client: k8s.ApiClient, namespace: str, name: str) -> bytes | None:
    """The kubeconfig bytes, or None while the Secret (or its key) does not exist yet."""
    try:
        secret = k8s.CoreV1Api(api_client).read_namespaced_secret(kubeconfig_secret_name(name), namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    encoded = (secret.data or {}).get(SECRET_DATA_KEY)
    if not encoded:
        return None
    return base64.b64decode(encoded)
