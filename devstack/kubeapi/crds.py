"""Load CustomResourceDefinitions from YAML files (cached per process) or from a built-in minimal set."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .resources import ResourceType

log = logging.getLogger(__name__)

MAX_YAML_BYTES = 8 * 1024 * 1024
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_file_cache: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def safe_load_all(text: str) -> list[Any]:
    if len(text) > MAX_YAML_BYTES:
        raise ValueError(f"YAML document too large ({len(text)} bytes)")
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def _disk_cache_file(key: tuple[str, int, int]) -> Path | None:
    """Parsed CRDs as JSON in a private per-user temp folder: YAML parsing of the upstream CRDs takes ~2 s."""
    folder = Path(tempfile.gettempdir(), f"devstack-kubeapi-crds-{os.getuid()}")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
            return None  # not ours or not private: do not trust it
    except OSError:
        return None
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]
    return folder / f"{digest}.json"


def _parse_crd_file(path: Path, key: tuple[str, int, int]) -> list[dict[str, Any]]:
    cache_file = _disk_cache_file(key)
    if cache_file is not None and cache_file.is_file():
        try:
            return json.loads(cache_file.read_text(encoding="utf-8"))
        except ValueError:
            pass
    text = path.read_text(encoding="utf-8")
    crds: list[dict[str, Any]] = []
    # Cheap pre-filter: example manifests with ${VAR} placeholders are not valid YAML and hold no CRDs.
    if "CustomResourceDefinition" in text:
        try:
            docs = safe_load_all(text)
        except yaml.YAMLError as exc:
            log.warning("skipping %s: invalid YAML (%s)", path, exc)
            docs = []
        crds = [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    if cache_file is not None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(crds), encoding="utf-8")
            partial.replace(cache_file)
    return crds


def _crds_in_file(path: Path) -> list[dict[str, Any]]:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key in _file_cache:
            return _file_cache[key]
    if stat.st_size > MAX_YAML_BYTES:
        log.warning("skipping %s: larger than %d bytes", path, MAX_YAML_BYTES)
        return []
    crds = _parse_crd_file(path, key)
    with _cache_lock:
        _file_cache[key] = crds
    return crds


def load_crd_paths(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """CRD documents from files or folders (recursive, multi-doc).

    When one CRD name appears twice, the file nearer to its root folder wins, so ``capi/x.yaml`` beats
    ``capi/v1.12.9/x.yaml``. The returned dicts are shared by the cache: treat them as read-only.
    """
    found: dict[str, dict[str, Any]] = {}
    for root in paths:
        root = Path(root)
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = sorted(
                (p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()),
                key=lambda p: (len(p.relative_to(root).parts), str(p)),
            )
        else:
            raise FileNotFoundError(f"CRD path not found: {root}")
        for path in files:
            for crd in _crds_in_file(path):
                name = crd.get("metadata", {}).get("name", "")
                found.setdefault(name, crd)
    return list(found.values())


def _permissive_schema() -> dict[str, Any]:
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": copy.deepcopy(open_object),
            "status": copy.deepcopy(open_object),
        },
    }


def minimal_crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    status: bool = True,
    short_names: Iterable[str] = (),
    categories: Iterable[str] = (),
) -> dict[str, Any]:
    """A CRD with a permissive schema (spec/status keep unknown fields; other top-level fields are pruned)."""
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    version_entry: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": _permissive_schema()},
    }
    if status:
        version_entry["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [version_entry],
        },
    }


CAPI = "cluster.x-k8s.io"
CAPMOX = "infrastructure.cluster.x-k8s.io"
IPAM = "ipam.cluster.x-k8s.io"


def builtin_crds() -> list[dict[str, Any]]:
    """The kinds the portal touches, for machines without the upstream CRD files."""
    return [
        minimal_crd(CAPI, "v1beta2", "Cluster", "clusters", short_names=["cl"], categories=["cluster-api"]),
        minimal_crd(CAPI, "v1beta2", "Machine", "machines", short_names=["ma"], categories=["cluster-api"]),
        minimal_crd(CAPI, "v1beta2", "MachineDeployment", "machinedeployments", short_names=["md"]),
        minimal_crd(CAPI, "v1beta2", "MachineHealthCheck", "machinehealthchecks", short_names=["mhc"]),
        minimal_crd("controlplane.cluster.x-k8s.io", "v1alpha2", "KamajiControlPlane", "kamajicontrolplanes"),
        minimal_crd(
            "bootstrap.cluster.x-k8s.io",
            "v1beta2",
            "KubeadmConfigTemplate",
            "kubeadmconfigtemplates",
            status=False,
        ),
        minimal_crd(CAPMOX, "v1alpha2", "ProxmoxCluster", "proxmoxclusters"),
        minimal_crd(CAPMOX, "v1alpha2", "ProxmoxMachine", "proxmoxmachines"),
        minimal_crd(CAPMOX, "v1alpha2", "ProxmoxMachineTemplate", "proxmoxmachinetemplates", status=False),
        minimal_crd(IPAM, "v1alpha2", "InClusterIPPool", "inclusterippools"),
        minimal_crd(IPAM, "v1alpha2", "GlobalInClusterIPPool", "globalinclusterippools", namespaced=False),
        minimal_crd(IPAM, "v1beta2", "IPAddressClaim", "ipaddressclaims"),
        minimal_crd(IPAM, "v1beta2", "IPAddress", "ipaddresses", status=False),
        minimal_crd("kubevirt.io", "v1", "VirtualMachine", "virtualmachines", short_names=["vm", "vms"]),
        minimal_crd("kubevirt.io", "v1", "VirtualMachineInstance", "virtualmachineinstances", short_names=["vmi"]),
        minimal_crd("cdi.kubevirt.io", "v1beta1", "DataVolume", "datavolumes", short_names=["dv", "dvs"]),
        minimal_crd("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", short_names=["hr"]),
    ]


class CRDError(ValueError):
    pass


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of the CRD."""
    try:
        spec = crd["spec"]
        group = spec["group"]
        names = spec["names"]
        kind, plural = names["kind"], names["plural"]
        versions = spec["versions"]
    except (KeyError, TypeError) as exc:
        raise CRDError(f"not a valid apiextensions.k8s.io/v1 CustomResourceDefinition: missing {exc}") from exc
    expected_name = f"{plural}.{group}"
    if crd.get("metadata", {}).get("name") != expected_name:
        raise CRDError(f"CRD metadata.name must be {expected_name!r}")
    types = []
    for entry in versions:
        if not entry.get("served", False):
            continue
        types.append(
            ResourceType(
                group=group,
                version=entry["name"],
                kind=kind,
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                has_status="status" in (entry.get("subresources") or {}),
                is_custom=True,
                storage=bool(entry.get("storage")),
                schema=(entry.get("schema") or {}).get("openAPIV3Schema"),
                crd_name=expected_name,
            )
        )
    return types
