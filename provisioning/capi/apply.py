"""Apply rendered clusters to the management cluster with server-side apply (official kubernetes client).

The generated CustomObjectsApi only sends merge patches, so apply requests go through ApiClient.call_api with
the apply-patch content type. Objects are applied in render order (referenced objects first); re-applying an
unchanged rendering is a no-op on the server (same resourceVersion).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from . import kinds
from .render import CAPI_CLUSTER_LABEL, MANAGED_BY, MANAGER, PORTAL_SELECTOR, render_cluster
from .spec import ClusterSpec

log = logging.getLogger(__name__)
FIELD_MANAGER = "proxmox-portal"
API_SUFFIX = "/api2/json"


@dataclass(frozen=True)
class ProxmoxCredentials:
    """What capmox reads from the credentialsRef Secret. repr() never shows the token secret."""

    url: str
    token_id: str
    token_secret: str = field(repr=False)
    insecure: bool = False
    root_ca: str = field(default="", repr=False)

    def secret_data(self) -> dict[str, str]:
        url = self.url.rstrip("/")
        if url.endswith(API_SUFFIX):  # capmox appends /api2/json itself
            url = url[: -len(API_SUFFIX)]
        # `insecure` is always written: capmox treats an absent key as "TLS verification off".
        data = {"url": url, "token": self.token_id, "secret": self.token_secret}
        data["insecure"] = "true" if self.insecure else "false"
        if self.root_ca:
            data["root_ca"] = self.root_ca
        return data


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    name: str
    resource_version: str


def api_client_from_config(kubeconfig_path: str = "") -> k8s.ApiClient:
    """Kubeconfig file when given, else in-cluster service account, else ~/.kube/config."""
    if kubeconfig_path:
        return k8s_config.new_client_from_config(config_file=kubeconfig_path)
    try:
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)
        return k8s.ApiClient(configuration)
    except k8s_config.ConfigException:
        return k8s_config.new_client_from_config()


def object_path(kind: kinds.Kind, namespace: str, name: str = "") -> str:
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    path = f"{prefix}/namespaces/{namespace}/{kind.plural}"
    return f"{path}/{name}" if name else path


def server_side_apply(api_client: k8s.ApiClient, obj: dict, *, force: bool = True) -> dict:
    kind = kinds.BY_KIND.get(obj["kind"]) or kinds.Kind(obj["kind"], "", obj["apiVersion"], obj["kind"].lower() + "s")
    meta = obj["metadata"]
    return api_client.call_api(
        object_path(kind, meta["namespace"], meta["name"]),
        "PATCH",
        query_params=[("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=obj,
        response_type="object",
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )


def ensure_namespace(api_client: k8s.ApiClient, namespace: str, labels: dict[str, str] | None = None) -> bool:
    """Create the namespace if missing. Returns True when it was created."""
    core = k8s.CoreV1Api(api_client)
    try:
        core.read_namespace(namespace)
        return False
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace, labels=labels or {}))
    try:
        core.create_namespace(body)
    except ApiException as exc:
        if exc.status != 409:  # created concurrently by another worker
            raise
    return True


def ensure_credentials_secret(
    api_client: k8s.ApiClient, namespace: str, name: str, credentials: ProxmoxCredentials
) -> None:
    """Apply the per-endpoint credentials Secret (base64 `data`, so re-applying is a no-op)."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(credentials.secret_data().items())}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_BY: MANAGER}},
        "type": "Opaque",
        "data": encoded,
    }
    api_client.call_api(
        f"/api/v1/namespaces/{namespace}/secrets/{name}",
        "PATCH",
        query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=secret,
        response_type="object",
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )


def apply_objects(api_client: k8s.ApiClient, objects: list[dict]) -> list[AppliedObject]:
    applied = []
    for obj in objects:
        result = server_side_apply(api_client, obj)
        meta = result.get("metadata", {})
        applied.append(AppliedObject(obj["kind"], meta.get("name", ""), str(meta.get("resourceVersion", ""))))
        log.info("applied %s %s/%s", obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
    return applied


def apply_cluster(
    spec: ClusterSpec, api_client: k8s.ApiClient, credentials: ProxmoxCredentials | None = None
) -> list[AppliedObject]:
    """Namespace, credentials Secret (when given), then every rendered object in dependency order."""
    objects = render_cluster(spec)
    ensure_namespace(api_client, spec.namespace, {MANAGED_BY: MANAGER, "proxmox-portal.io/tenant": spec.tenant})
    if credentials is not None:
        ensure_credentials_secret(api_client, spec.namespace, spec.credentials_secret, credentials)
    return apply_objects(api_client, objects)


def delete_cluster(api_client: k8s.ApiClient, namespace: str, name: str) -> bool:
    """Ask CAPI to delete the cluster (it removes machines, VMs and owned objects). False if already gone."""
    api = k8s.CustomObjectsApi(api_client)
    try:
        api.delete_namespaced_custom_object(
            kinds.CLUSTER.group,
            kinds.CLUSTER.version,
            namespace,
            kinds.CLUSTER.plural,
            name,
            body=k8s.V1DeleteOptions(propagation_policy="Foreground"),
        )
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def cleanup_leftovers(api_client: k8s.ApiClient, namespace: str, name: str) -> int:
    """After the Cluster is gone, delete its portal objects nothing garbage-collected (e.g. old templates).

    On a real management cluster CAPI's owner references already remove them; this sweep completes
    deletion on API servers without a garbage collector and is harmless otherwise.
    """
    api = k8s.CustomObjectsApi(api_client)
    selector = f"{PORTAL_SELECTOR},{CAPI_CLUSTER_LABEL}={name}"
    deleted = 0
    for kind in reversed(kinds.RENDERED_KINDS):
        listing = api.list_namespaced_custom_object(
            kind.group, kind.version, namespace, kind.plural, label_selector=selector
        )
        for item in listing.get("items", []):
            try:
                api.delete_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, item["metadata"]["name"]
                )
                deleted += 1
            except ApiException as exc:
                if exc.status != 404:
                    raise
    return deleted


def _template_refs(obj: dict) -> set[str]:
    spec = (obj.get("spec") or {}).get("template", {}).get("spec", {})
    refs = {
        (spec.get("infrastructureRef") or {}).get("name"),
        (spec.get("bootstrap", {}).get("configRef") or {}).get("name"),
    }
    return {r for r in refs if r}


def prune_templates(api_client: k8s.ApiClient, namespace: str, name: str) -> list[str]:
    """Delete the cluster's hash-named templates nothing uses any more (after a finished rollout).

    A template stays while a MachineDeployment or MachineSet references it or a ProxmoxMachine was cloned from it.
    If MachineSets cannot be listed (kind not served), nothing is pruned: better a stale template than a broken one.
    """
    api = k8s.CustomObjectsApi(api_client)
    selector = f"{CAPI_CLUSTER_LABEL}={name}"

    def items(kind: kinds.Kind, label_selector: str = selector) -> list[dict]:
        return api.list_namespaced_custom_object(
            kind.group, kind.version, namespace, kind.plural, label_selector=label_selector
        ).get("items", [])

    try:
        machine_sets = items(kinds.MACHINE_SET)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    used: set[str] = set()
    for owner in (*items(kinds.MACHINE_DEPLOYMENT), *machine_sets):
        used |= _template_refs(owner)
    for machine in items(kinds.PROXMOX_MACHINE):
        used.add(machine["metadata"].get("annotations", {}).get("cluster.x-k8s.io/cloned-from-name", ""))
    pruned = []
    for kind in (kinds.PROXMOX_MACHINE_TEMPLATE, kinds.KUBEADM_CONFIG_TEMPLATE):
        for template in items(kind, f"{PORTAL_SELECTOR},{selector}"):
            template_name = template["metadata"]["name"]
            if template_name not in used:
                try:
                    api.delete_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, template_name)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                pruned.append(f"{kind.kind}/{template_name}")
    return pruned
