"""``FakeKubeAPI``: a threaded HTTP server speaking the Kubernetes API subset the portal's client uses."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import logging
import os
import secrets
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import yaml

from . import crds as crd_files
from .certs import server_certificates
from .crds import load_crd_paths, safe_load_all
from .handler import KubeRequestHandler
from .resources import ResourceType
from .store import Store, WriteOptions

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop the connection (or fail the TLS handshake) are not server errors.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class FakeKubeAPI:
    """In-process fake kube-apiserver.

    >>> server = FakeKubeAPI(crd_dirs=["/work/shared/crds"]).start()
    >>> api_client = server.client()
    >>> server.stop()

    ``builtin_crds=True`` (default) also serves the built-in permissive CRDs for every kind that the CRD files
    did not declare (e.g. MachineHealthCheck, KubeVirt VirtualMachine, Flux HelmRelease).
    """

    def __init__(
        self,
        crd_dirs: Iterable[str | os.PathLike[str]] | None = None,
        *,
        builtin_crds: bool = True,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.tls = tls
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.verbose = verbose
        self.store = Store()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._hooks: list[Callable[[str, dict[str, Any]], None]] = []
        self._hook_state = threading.local()
        self._discovery_caches: set[Path] = set()
        self.crd_dirs = [Path(p) for p in crd_dirs or []]
        loaded = load_crd_paths(self.crd_dirs)
        for crd in loaded:
            self.store.install_crd(crd)
        if builtin_crds:
            known = {crd["metadata"]["name"] for crd in loaded}
            for crd in crd_files.builtin_crds():
                if crd["metadata"]["name"] not in known:
                    self.store.install_crd(crd)

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("BoundKubeRequestHandler", (KubeRequestHandler,), {"api": self})
        self._httpd = _Server((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        if self.tls:
            certs = server_certificates()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certs.cert_file, certs.key_file)
            # The handshake runs in the handler thread (KubeRequestHandler.setup), not in the accept loop.
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._forget_discovery_cache()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-kubeapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        with self._connections_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # wakes keep-alive handler threads blocked in recv()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._forget_discovery_cache()
        for cache in self._discovery_caches:
            cache.unlink(missing_ok=True)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track_connection(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _forget_discovery_cache(self) -> None:
        """DynamicClient caches discovery in $TMP by URL; a later server on a reused port must not read it."""
        digest = hashlib.md5(self.url.encode(), usedforsecurity=False).hexdigest()
        Path(tempfile.gettempdir(), f"osrcp-{digest}.json").unlink(missing_ok=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    # ---- client configuration -------------------------------------------------------------------------

    def kubeconfig_dict(self, context: str = "devstack-fake") -> dict[str, Any]:
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(server_certificates().ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": f"{context}-admin", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": f"{context}-admin", "namespace": "default"},
                }
            ],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | os.PathLike[str]) -> Path:
        """Write the kubeconfig atomically (mode 0600: it holds the bearer token); returns its path."""
        target = Path(path)
        _write_private(target, yaml.safe_dump(self.kubeconfig_dict(), sort_keys=False))
        return target

    def client(self):
        """A ``kubernetes.client.ApiClient`` bound to this server."""
        from kubernetes import client as k8s_client

        configuration = k8s_client.Configuration()
        configuration.host = self.url
        if self.tls:
            configuration.ssl_ca_cert = str(server_certificates().ca_file)
        configuration.api_key = {"authorization": self.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return k8s_client.ApiClient(configuration)

    def dynamic_client(self):
        """A ``kubernetes.dynamic.DynamicClient`` with a discovery cache private to this server."""
        from kubernetes.dynamic import DynamicClient

        cache = Path(tempfile.gettempdir(), f"devstack-kubeapi-{os.getpid()}-{id(self)}-{self.port}.json")
        cache.unlink(missing_ok=True)
        self._discovery_caches.add(cache)  # removed by stop()
        return DynamicClient(self.client(), cache_file=str(cache))

    # ---- hooks (fake controllers for the demo) ---------------------------------------------------------

    def add_hook(self, hook: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``hook(event, obj)`` after every stored change ("ADDED", "MODIFIED", "DELETED").

        Hooks run in the request thread after the store lock is released and before the response is sent, so a
        test sees their effects as soon as its client call returns. They may write through this server (e.g.
        ``set_status``); exceptions are logged, never returned to the client.
        """
        self._hooks.append(hook)
        self.store.record_events = True

    def run_hooks(self) -> None:
        if getattr(self._hook_state, "running", False):
            return  # a hook wrote through the server: the outer loop below picks up the new events, in order
        self._hook_state.running = True
        try:
            for _ in range(100):  # hooks may trigger more events; stop runaway feedback loops
                events = self.store.drain_events()
                if not events:
                    return
                for event, obj in events:
                    for hook in self._hooks:
                        try:
                            hook(event, obj)
                        except Exception:
                            log.exception("kubeapi hook %r failed on %s %s", hook, event, obj.get("kind"))
            log.warning("kubeapi hooks still produced events after 100 rounds; giving up")
        finally:
            self._hook_state.running = False

    # ---- data -----------------------------------------------------------------------------------------

    def add_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        """Register (or replace) a CustomResourceDefinition at runtime; returns the stored CRD object."""
        return self.store.register_crd(copy.deepcopy(crd))

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        rtype = self.store.find_kind(api_version, kind)
        if rtype is None:
            group = api_version.rpartition("/")[0]
            for crd in crd_files.builtin_crds():
                if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
                    self.add_crd(crd)  # e.g. KubeVirt VirtualMachine when no CRD file was given
                    rtype = self.store.find_kind(api_version, kind)
        if rtype is None:
            raise KeyError(f"no resource served for {api_version} {kind}")
        return rtype

    def load_objects(self, objects: Iterable[dict[str, Any]], create_namespaces: bool = True) -> list[dict[str, Any]]:
        """Create or overwrite objects as given, status included (``kind: List`` is unwrapped)."""
        stored = []
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            if obj.get("kind") == "List" or (obj.get("kind", "").endswith("List") and "items" in obj):
                stored += self.load_objects(obj.get("items") or [], create_namespaces)
                continue
            if obj.get("kind") == "CustomResourceDefinition":
                stored.append(self.add_crd(obj))
                continue
            rtype = self.resource_type(obj.get("apiVersion", ""), obj.get("kind", ""))
            stored.append(self.store.seed(rtype, obj, create_namespace=create_namespaces))
        self.run_hooks()
        return stored

    def load_manifests(self, *paths: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Load objects from YAML/JSON files (multi-document), e.g. KubeVirt VMs for the wizard."""
        stored = []
        for path in paths:
            stored += self.load_objects(safe_load_all(Path(path).read_text(encoding="utf-8")))
        return stored

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """Read an object directly from the store (test assertions), or None."""
        rtype = self.store.find_kind(api_version, kind)
        if rtype is None:
            return None
        with self.store.lock:
            obj = self.store.objects.get(rtype.group_resource, {}).get(
                ((namespace or "") if rtype.namespaced else "", name)
            )
            return self.store._present(rtype, obj) if obj is not None else None

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind (optionally in one namespace), sorted by namespace/name, for assertions."""
        rtype = self.store.find_kind(api_version, kind)
        if rtype is None:
            return []
        items = self.store.list(rtype, namespace)["items"]
        for item in items:  # built-in list items carry no apiVersion/kind on the wire; add them back here
            item.setdefault("apiVersion", rtype.api_version)
            item.setdefault("kind", rtype.kind)
        return items

    def set_status(
        self, api_version: str, kind: str, name: str, namespace: str | None, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge ``status`` into an object's status, as a controller would (demo and test helper)."""
        from .store import MERGE

        rtype = self.resource_type(api_version, kind)
        opts = WriteOptions(manager="devstack-controller")
        obj, _ = self.store.patch(rtype, namespace, name, {"status": status}, MERGE, opts, subresource="status")
        self.run_hooks()
        return obj

    def save_state(self, path: str | os.PathLike[str]) -> None:
        _write_private(Path(path), json.dumps(self.store.snapshot(), indent=1, sort_keys=True))  # may hold Secrets

    def load_state(self, path: str | os.PathLike[str]) -> int:
        """Restore a snapshot written by save_state (CRDs first); returns the number of objects."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        objects = data.get("objects") or []
        crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
        namespaces = [o for o in objects if o.get("kind") == "Namespace"]
        rest = [o for o in objects if o not in crds and o not in namespaces]
        for crd in crds:
            self.add_crd(crd)
        for obj in [*namespaces, *rest]:
            obj = copy.deepcopy(obj)
            for key in ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation"):
                obj["metadata"].pop(key, None)
            if obj["metadata"].get("deletionTimestamp"):
                continue
            self.load_objects([obj])
        return len(objects)

    # ---- discovery ------------------------------------------------------------------------------------

    def discovery_core_versions(self, host_header: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host_header or self.url}],
        }

    def _group_entry(self, group: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def discovery_groups(self) -> dict[str, Any]:
        with self.store.lock:
            groups = self.store.group_versions()
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_entry(g, v) for g, v in groups.items() if g],
        }

    def discovery_group(self, group: str) -> dict[str, Any]:
        from .errors import path_not_found

        with self.store.lock:
            versions = self.store.group_versions().get(group)
        if not group or not versions:
            raise path_not_found()
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_entry(group, versions)}

    def discovery_resources(self, group: str, version: str) -> dict[str, Any]:
        from .errors import path_not_found

        with self.store.lock:
            types = self.store.resources_in(group, version)
        if not types:
            raise path_not_found()
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [entry for rtype in types for entry in rtype.discovery_entries()],
        }


def _write_private(target: Path, text: str) -> None:
    """Write ``text`` with mode 0600 via a temporary file, so readers never see a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(partial, 0o600)
    partial.replace(target)


__all__ = ["FakeKubeAPI", "WriteOptions"]
