"""Where manifests come from: pasted text, uploaded files and archives, or a live KubeVirt cluster.

Everything ends up as one YAML text (documents separated by ``---``) that the converter reads. Every path is
size-limited and archive members are checked before they are read.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml

from migration.core import InputError, Limits, load_documents

MAX_TOTAL_BYTES = 10 * 1024 * 1024  # all uploads of one request, and all manifests of one plan
MAX_FILES = 50
MAX_MEMBERS = 500
MAX_RATIO = 100  # uncompressed / compressed, per archive
MAX_KUBECONFIG_BYTES = 256 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
_DRIVE = re.compile(r"^[A-Za-z]:")
KUBE_TIMEOUT = (5, 15)  # connect, read seconds; settings.MIGRATION_KUBE_TIMEOUT overrides
MAX_LIVE_VMS = 2000


class SourceError(Exception):
    """A clear message for the Source step; nothing has been saved."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# --------------------------------------------------------------------------------------------- text and files
def check_manifests(text: str, source: str = "<input>") -> str:
    """The text if the converter can read it and it holds at least one KubeVirt object."""
    if len(text.encode()) > MAX_TOTAL_BYTES:
        raise SourceError(f"The manifests are {mib(len(text.encode()))}; the limit is {mib(MAX_TOTAL_BYTES)}.")
    try:
        docs = load_documents(text, Limits(max_bytes=MAX_TOTAL_BYTES), source)
    except InputError as exc:
        raise SourceError(f"Not valid YAML/JSON manifests: {exc}") from None
    if not any(d.api_version.startswith(("kubevirt.io/", "pool.kubevirt.io/", "infrastructure.cluster.x-k8s.io/"))
               for d in docs):  # fmt: skip
        raise SourceError(f"{source}: no KubeVirt VirtualMachine (or VMI, pool, CAPK template) found.")
    return text


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{name} is not a text file (YAML or JSON manifests are expected).") from None


def _safe_member_name(name: str, archive: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise SourceError(f"{archive} contains an unsafe path ({name[:120]}): the archive was refused.")
    return str(path)


@dataclass
class _Budget:
    total: int = 0
    members: int = 0

    def take(self, size: int, archive: str) -> None:
        self.members += 1
        self.total += size
        if self.members > MAX_MEMBERS:
            raise SourceError(f"{archive} has more than {MAX_MEMBERS} entries: the archive was refused.")
        if self.total > MAX_TOTAL_BYTES:
            raise SourceError(
                f"{archive} unpacks to more than {mib(MAX_TOTAL_BYTES)}: refused (possible archive bomb)."
            )


def _read_zip(data: bytes, name: str) -> list[tuple[str, str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise SourceError(f"{name} is not a readable zip archive.") from None
    budget = _Budget()
    for info in infos:  # check everything before reading anything
        member = _safe_member_name(info.filename, name)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise SourceError(f"{name} contains a symbolic link ({member}): the archive was refused.")
        budget.take(info.file_size, name)
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise SourceError(f"{name}: {member} is compressed more than {MAX_RATIO}:1 (possible archive bomb).")
    out = []
    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith(MANIFEST_SUFFIXES):
            continue
        with archive.open(info) as handle:
            content = handle.read(MAX_TOTAL_BYTES + 1)  # never trust the header's size
        if len(content) > info.file_size:
            raise SourceError(f"{name}: {info.filename} is larger than its header says: the archive was refused.")
        out.append((f"{name}:{info.filename}", _decode(content, info.filename)))
    return out


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress at most the size limit (plus tar headers); more than that is an archive bomb, refused early."""
    limit = MAX_TOTAL_BYTES + MAX_MEMBERS * 1024 + 10240
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = stream.decompress(data, limit)
    except zlib.error:
        raise SourceError(f"{name} is not a readable .tar.gz archive.") from None
    if stream.unconsumed_tail:
        raise SourceError(
            f"{name} unpacks to more than {mib(MAX_TOTAL_BYTES)}: the archive was refused (possible archive bomb)."
        )
    return out


def _read_tar(data: bytes, name: str) -> list[tuple[str, str]]:
    raw = _gunzip(data, name)
    if len(raw) > max(len(data), 1) * MAX_RATIO:
        raise SourceError(f"{name} is compressed more than {MAX_RATIO}:1 (possible archive bomb).")
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            members = archive.getmembers()
            budget = _Budget()
            for member in members:
                _safe_member_name(member.name, name)
                if member.issym() or member.islnk():
                    raise SourceError(f"{name} contains a link ({member.name[:120]}): the archive was refused.")
                if not (member.isfile() or member.isdir()):
                    raise SourceError(f"{name} contains a special file ({member.name[:120]}): the archive was refused.")
                budget.take(member.size, name)
            out = []
            for member in members:
                if member.isfile() and member.name.lower().endswith(MANIFEST_SUFFIXES):
                    handle = archive.extractfile(member)
                    content = handle.read(MAX_TOTAL_BYTES + 1) if handle else b""
                    out.append((f"{name}:{member.name}", _decode(content, member.name)))
    except (tarfile.TarError, OSError, EOFError):
        raise SourceError(f"{name} is not a readable .tar.gz archive.") from None
    return out


def read_uploads(files) -> tuple[str, str]:
    """(combined YAML text, description) from Django UploadedFiles; SourceError on anything unacceptable."""
    if not files:
        raise SourceError("Choose at least one file.")
    if len(files) > MAX_FILES:
        raise SourceError(f"At most {MAX_FILES} files per upload.")
    total = sum(f.size for f in files)
    if total > MAX_TOTAL_BYTES:
        raise SourceError(f"The upload is {mib(total)}; the limit is {mib(MAX_TOTAL_BYTES)}.")
    parts: list[tuple[str, str]] = []
    for upload in files:
        name = (upload.name or "upload")[:200]
        data = upload.read(MAX_TOTAL_BYTES + 1)
        lower = name.lower()
        if lower.endswith(".zip"):
            parts += _read_zip(data, name)
        elif lower.endswith((".tar.gz", ".tgz")):
            parts += _read_tar(data, name)
        elif lower.endswith(MANIFEST_SUFFIXES):
            parts.append((name, _decode(data, name)))
        else:
            raise SourceError(f"{name}: only {', '.join(MANIFEST_SUFFIXES + ARCHIVE_SUFFIXES)} files are accepted.")
    if not parts:
        raise SourceError("The archives hold no .yaml, .yml or .json files.")
    for source, text in parts:
        _parse_only(text, source)  # name the file that is broken
    combined = "\n---\n".join(text.strip().removeprefix("---").strip() for _, text in parts if text.strip())
    check_manifests(combined, "the uploaded files")
    names = ", ".join(s for s, _ in parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
    return combined, f"Uploaded: {names}"[:500]


def _parse_only(text: str, source: str) -> None:
    try:
        load_documents(text, Limits(max_bytes=MAX_TOTAL_BYTES), source)
    except InputError as exc:
        raise SourceError(f"Not valid YAML/JSON manifests: {exc}") from None


# ---------------------------------------------------------------------------------------------- kubeconfig
_FILE_KEYS = {"certificate-authority", "client-certificate", "client-key", "tokenFile", "token-file"}


def parse_kubeconfig(data: bytes) -> dict:
    """A kubeconfig that is safe to use on the portal server: inline credentials only, no exec plugins."""
    if len(data) > MAX_KUBECONFIG_BYTES:
        raise SourceError(f"The kubeconfig is larger than {MAX_KUBECONFIG_BYTES // 1024} KB.")
    try:
        config = yaml.safe_load(_decode(data, "The kubeconfig"))
    except yaml.YAMLError:
        raise SourceError("The kubeconfig is not valid YAML.") from None
    if not isinstance(config, dict) or not config.get("clusters") or not config.get("contexts"):
        raise SourceError("This is not a kubeconfig: it needs clusters and contexts.")
    for user in config.get("users") or []:
        body = (user or {}).get("user") or {}
        if not isinstance(body, dict):
            raise SourceError("The kubeconfig has a malformed user entry.")
        if "exec" in body or "auth-provider" in body:
            raise SourceError("Kubeconfigs with exec or auth-provider plugins are not accepted: use a token.")
        if _FILE_KEYS & set(body):
            raise SourceError("The kubeconfig refers to local files: embed the credentials (*-data fields).")
    for cluster in config.get("clusters") or []:
        body = (cluster or {}).get("cluster") or {}
        if not isinstance(body, dict) or not str(body.get("server", "")).startswith(("https://", "http://")):
            raise SourceError("Every cluster in the kubeconfig needs an http(s) server address.")
        if _FILE_KEYS & set(body):
            raise SourceError("The kubeconfig refers to local files: embed the credentials (*-data fields).")
    return config


class LiveCluster:
    """Reads namespaces and KubeVirt VMs (with their DataVolumes and PVCs) through the official client."""

    def __init__(self, config: dict):
        from kubernetes import config as kube_config

        current = next(
            (
                c
                for c in config.get("contexts") or []
                if isinstance(c, dict) and c.get("name") == config.get("current-context")
            ),
            None,
        )
        self.default_namespace = ((current or {}).get("context") or {}).get("namespace") or "default"
        try:
            self.api = kube_config.new_client_from_config_dict(config)
        except Exception as exc:  # the client raises ConfigException, ValueError, KeyError...
            raise SourceError(f"The kubeconfig cannot be used: {_short(exc)}") from None
        self.api.configuration.retries = 0

    def _call(self, fn, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, _request_timeout=_timeout(), **kwargs)
        except ApiException as exc:
            if exc.status == 401:
                raise SourceError(f"The cluster refused the credentials ({exc.status} {exc.reason}).", 401) from None
            if exc.status == 403:
                raise SourceError("The credentials are not allowed to read this (403 Forbidden).", 403) from None
            if exc.status == 404:
                raise SourceError("The cluster has no KubeVirt API (kubevirt.io/v1 not found).", 404) from None
            raise SourceError(f"The cluster answered {exc.status} {exc.reason}.", exc.status) from None
        except Exception as exc:  # urllib3 connection errors, timeouts, TLS failures
            raise SourceError(f"Cannot connect to the cluster: {_short(exc)}") from None

    def namespaces(self) -> list[str]:
        from kubernetes import client

        try:
            result = self._call(client.CoreV1Api(self.api).list_namespace)
        except SourceError as exc:
            if exc.status != 403:
                raise
            return [self.default_namespace]  # a namespaced account: offer its own namespace
        return sorted(ns.metadata.name for ns in result.items)

    def vm_names(self, namespaces: list[str]) -> dict[str, list[str]]:
        try:
            vms = self._vms(None)
        except SourceError as exc:
            if exc.status != 403:
                raise
            vms = [vm for ns in namespaces for vm in self._vms(ns)]
        names: dict[str, list[str]] = {}
        for vm in vms:
            meta = vm.get("metadata") or {}
            names.setdefault(meta.get("namespace", ""), []).append(meta.get("name", ""))
        return {ns: sorted(found) for ns, found in names.items()}

    def _vms(self, namespace: str | None) -> list[dict]:
        from kubernetes import client

        api = client.CustomObjectsApi(self.api)
        if namespace:
            result = self._call(api.list_namespaced_custom_object, "kubevirt.io", "v1", namespace, "virtualmachines")
        else:
            result = self._call(api.list_cluster_custom_object, "kubevirt.io", "v1", "virtualmachines")
        return list(result.get("items") or [])[:MAX_LIVE_VMS]

    def _optional(self, fn, *args) -> list[dict]:
        try:
            return list(self._call(fn, *args).get("items") or [])
        except SourceError:
            return []  # CDI may not be installed

    def export(self, namespaces: list[str]) -> str:
        """YAML of the VMs in the namespaces plus the DataVolumes/PVCs that size their disks (no Secrets)."""
        from kubernetes import client

        custom = client.CustomObjectsApi(self.api)
        core = client.CoreV1Api(self.api)
        docs: list[dict] = []
        for ns in namespaces:
            vms = self._vms(ns)
            for vm in vms:
                vm.setdefault("apiVersion", "kubevirt.io/v1")
                vm.setdefault("kind", "VirtualMachine")
            docs += vms
            if not vms:
                continue
            for dv in self._optional(
                custom.list_namespaced_custom_object, "cdi.kubevirt.io", "v1beta1", ns, "datavolumes"
            ):
                dv.setdefault("apiVersion", "cdi.kubevirt.io/v1beta1")
                dv.setdefault("kind", "DataVolume")
                docs.append(dv)
            pvcs = self._call(core.list_namespaced_persistent_volume_claim, ns)
            for pvc in self.api.sanitize_for_serialization(pvcs.items):
                pvc.setdefault("apiVersion", "v1")
                pvc.setdefault("kind", "PersistentVolumeClaim")
                docs.append(pvc)
        if not any(d.get("kind") == "VirtualMachine" for d in docs):
            raise SourceError("No VirtualMachines were found in the chosen namespaces.")
        text = yaml.safe_dump_all(docs, sort_keys=False)
        return check_manifests(text, "the cluster")

    def close(self) -> None:
        self.api.close()


def _timeout() -> tuple[float, float]:
    from django.conf import settings

    return tuple(getattr(settings, "MIGRATION_KUBE_TIMEOUT", KUBE_TIMEOUT))


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # urllib3 wraps the reason in long reprs; keep the readable tail.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" :()")
    return text[:200]
