"""HTTP routing: Kubernetes REST paths -> Store operations, JSON in and out, bearer-token auth."""

from __future__ import annotations

import hmac
import json
import logging
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import errors
from .crds import _Loader
from .resources import ResourceType
from .store import APPLY, WriteOptions

if TYPE_CHECKING:
    from .server import FakeKubeAPI

log = logging.getLogger(__name__)
Response = tuple[int, Any, list[str]]  # status code, JSON body (or plain text), Warning header texts

MAX_BODY_BYTES = 16 * 1024 * 1024
OPEN_PATHS = {
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
}  # readable without credentials (public-info-viewer)
VERSION_INFO = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-devstack-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


class KubeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devstack-kubeapi"
    api: FakeKubeAPI  # set on the subclass created per server

    # ---- plumbing -------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.api.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.api._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.api._track_connection(self.connection, add=False)

    def _send_json(self, code: int, body: Any, warnings: list[str] | None = None) -> None:
        is_text = isinstance(body, str)
        payload = body.encode() if is_text else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if is_text else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            escaped = escaped.encode("ascii", "backslashreplace").decode()  # headers must be latin-1
            self.send_header("Warning", f'299 - "{escaped}"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise errors.ApiError(413, "RequestEntityTooLarge", "Request entity too large")
        return self.rfile.read(length) if length else b""

    def _parse_body(self, raw: bytes, content_type: str) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            if content_type == APPLY or "yaml" in content_type:
                try:
                    return yaml.load(raw.decode(), Loader=_Loader)  # noqa: S506 - CSafeLoader/SafeLoader
                except (yaml.YAMLError, UnicodeDecodeError) as exc:
                    raise errors.bad_request(f"error decoding YAML: {exc}") from None
            raise errors.bad_request("couldn't get version/kind; json parse error: invalid JSON body") from None

    def _authorized(self, path: str) -> bool:
        header = self.headers.get("Authorization")
        if header is None:
            return path in OPEN_PATHS
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api.token.encode())

    def _handle(self) -> None:
        try:
            raw = self._read_body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"  # the client asks for "/version/"
            if not self._authorized(path):
                raise errors.unauthorized()
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
            code, body, warnings = self._route(path, query, raw, content_type)
            if self.api._hooks:
                self.api.run_hooks()
            self._send_json(code, body, warnings)
        except errors.ApiError as exc:
            if exc.code == 413:
                self.close_connection = True  # the unread body would be parsed as the next request
            self._send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:  # a bug in the fake must surface as a 500, not a hung client
            log.exception("fake kube-apiserver internal error")
            self._send_json(500, errors.ApiError(500, "InternalError", f"Internal error occurred: {exc}").status())

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ---- routing --------------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str], raw: bytes, content_type: str) -> Response:
        segments = [s for s in path.split("/") if s]
        if path in ("/healthz", "/livez", "/readyz"):
            return 200, "ok", []
        if path == "/version":
            return 200, VERSION_INFO, []
        discovery = self._discovery(segments)
        if discovery is not None:
            if self.command not in ("GET", "HEAD"):
                raise errors.method_not_allowed()
            return 200, discovery, []
        if segments[:1] == ["api"] and len(segments) > 2:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[:1] == ["apis"] and len(segments) > 3:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            raise errors.path_not_found()
        return self._resource_request(group, version, rest, query, raw, content_type)

    def _discovery(self, segments: list[str]) -> dict[str, Any] | None:
        if segments == ["api"]:
            return self.api.discovery_core_versions(self.headers.get("Host", ""))
        if segments == ["apis"]:
            return self.api.discovery_groups()
        if segments[:1] == ["apis"] and len(segments) == 2:
            return self.api.discovery_group(segments[1])
        if segments[:1] == ["api"] and len(segments) == 2:
            return self.api.discovery_resources("", segments[1])
        if segments[:1] == ["apis"] and len(segments) == 3:
            return self.api.discovery_resources(segments[1], segments[2])
        return None

    def _split_rest(self, group: str, version: str, rest: list[str]) -> tuple[str, str | None, str | None, str]:
        """-> (plural, namespace, name, subresource)."""
        store = self.api.store
        if rest[0] == "namespaces" and len(rest) >= 3:
            rtype = store.types.get((group, version), {}).get(rest[2])
            if rtype is not None and rtype.namespaced:
                return (
                    rest[2],
                    rest[1],
                    (rest[3] if len(rest) > 3 else None),
                    (rest[4] if len(rest) > 4 else ""),
                )
        if len(rest) > 3:
            raise errors.path_not_found()
        return rest[0], None, (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else "")

    def _resource_request(
        self, group: str, version: str, rest: list[str], query: dict[str, str], raw: bytes, content_type: str
    ) -> Response:
        plural, namespace, name, subresource = self._split_rest(group, version, rest)
        store = self.api.store
        rtype = store.resolve(group, version, plural)
        if subresource and not (subresource == "status" and rtype.has_status):
            raise errors.path_not_found()
        if rtype.namespaced and name is not None and namespace is None:
            raise errors.path_not_found()
        opts = WriteOptions(
            manager=query.get("fieldManager") or self._default_manager(),
            manager_given=bool(query.get("fieldManager")),
            dry_run=query.get("dryRun") == "All",
            force=_truthy(query.get("force")),
            strict=query.get("fieldValidation") == "Strict",
        )
        method = self.command
        if name is None:
            if method in ("GET", "HEAD"):
                if _truthy(query.get("watch")):
                    raise errors.method_not_allowed("watch is not supported by the devstack fake kube-apiserver")
                limit = query.get("limit")
                try:
                    limit_value = int(limit) if limit else None
                except ValueError:
                    raise errors.bad_request(f"invalid limit: {limit!r}") from None
                body = store.list(
                    rtype,
                    namespace,
                    label_selector=query.get("labelSelector"),
                    field_selector=query.get("fieldSelector"),
                    limit=limit_value,
                    continue_token=query.get("continue"),
                )
                return 200, body, []
            if method == "POST" and (namespace is not None or not rtype.namespaced):
                body = self._parse_body(raw, content_type)
                return 201, store.create(rtype, namespace, body, opts), opts.warnings
            if method == "DELETE":
                return 200, self._delete_collection(rtype, namespace, query, raw, content_type, opts), []
            raise errors.method_not_allowed()
        if method in ("GET", "HEAD"):
            return 200, store.get(rtype, namespace, name), []
        if method == "PUT":
            body = self._parse_body(raw, content_type)
            return 200, store.replace(rtype, namespace, name, body, opts, subresource), opts.warnings
        if method == "PATCH":
            body = self._parse_body(raw, content_type)
            obj, created = store.patch(rtype, namespace, name, body, content_type, opts, subresource)
            return (201 if created else 200), obj, opts.warnings
        if method == "DELETE" and not subresource:
            options = self._parse_body(raw, content_type) or {}
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            dry_run = opts.dry_run or "All" in (options.get("dryRun") or [])
            return 200, store.delete(rtype, namespace, name, options, dry_run=dry_run), []
        raise errors.method_not_allowed()

    def _delete_collection(
        self,
        rtype: ResourceType,
        namespace: str | None,
        query: dict[str, str],
        raw: bytes,
        content_type: str,
        opts: WriteOptions,
    ) -> dict[str, Any]:
        """DELETE on a collection: delete what the selectors match, return the list of deleted objects."""
        store = self.api.store
        options = self._parse_body(raw, content_type) or {}
        with store.lock:
            matched = store.list(
                rtype, namespace, label_selector=query.get("labelSelector"), field_selector=query.get("fieldSelector")
            )
            for item in matched["items"]:
                meta = item["metadata"]
                try:
                    store.delete(rtype, meta.get("namespace"), meta["name"], options, dry_run=opts.dry_run)
                except errors.ApiError as exc:
                    if exc.code != 404:  # already gone through an owner cascade earlier in this loop
                        raise
        return matched

    def _default_manager(self) -> str:
        """Like kube-apiserver: the User-Agent up to the first '/' (Python client: ``OpenAPI-Generator``)."""
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/")[0][:128] or "unknown"
