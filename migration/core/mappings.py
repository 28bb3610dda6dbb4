"""User-supplied mappings: KubeVirt networks, storage classes, boot sources -> Proxmox targets.

Network map::

    pod: {bridge: vmbr0}                    # the Kubernetes pod network
    networks:                               # multus networkName ("ns/name" or "name") -> bridge + VLAN
      tenant-demo/subnet-84dbec17: {bridge: vmbr1, vlan: 100}
    default: {bridge: vmbr0}                # anything unmapped (raises a concern)
    cluster:                                # ProxmoxCluster settings for converted CAPK clusters
      ipv4Config: {addresses: ["10.0.0.10-10.0.0.50"], prefix: 24, gateway: 10.0.0.1}
      dnsServers: [10.0.0.1]
      allowedNodes: [pve1]

Storage map::

    storageClasses: {replicated: ceph-rbd, local: {storage: local-lvm, format: raw}}
    default: local-lvm                      # unmapped classes (raises a concern)
    efi: local-lvm                          # efidisk0 / tpmstate0 / cloud-init drive
    snippets: local                         # storage with "snippets" content for cicustom user data
    node: pve1                              # Proxmox node that receives exported disk images
    importDir: /var/lib/vz/import    # where images land on that node

Template map (boot source -> Proxmox template)::

    sources:
      quay.io/containerdisks/fedora:latest: {templateID: 9000, sourceNode: pve1}
      datasource:openshift-virtualization-os-images/rhel8: {matchTags: [rhel8]}
      https://example.org/alpine.qcow2: {templateID: 9001, sourceNode: pve1}
    default: {matchTags: [kubevirt-import]}  # unmapped sources (raises a concern)

Source keys: a containerDisk image, a DataVolume ``http``/``registry``/``s3``/``gcs`` URL,
``datasource:<ns>/<name>`` for ``sourceRef``, ``pvc:<ns>/<name>`` for PVC clones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

DEFAULT_BRIDGE = "vmbr0"
DEFAULT_STORAGE = "local-lvm"
DEFAULT_SNIPPETS = "local"
DEFAULT_NODE = "pve"
DEFAULT_IMPORT_DIR = "/var/lib/vz/import"
DEFAULT_TEMPLATE_TAG = "kubevirt-import"
_TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.IGNORECASE)
_STORAGE_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-_.]*$")
_MAP_LIMIT = 1024 * 1024
_FORMATS = ("raw", "qcow2", "vmdk")


@dataclass(frozen=True)
class NetworkTarget:
    bridge: str
    vlan: int | None = None
    mtu: int | None = None


@dataclass(frozen=True)
class StorageTarget:
    storage: str
    format: str = "raw"


@dataclass(frozen=True)
class TemplateTarget:
    template_id: int | None = None
    source_node: str | None = None
    match_tags: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.match_tags:
            return "template tagged " + ",".join(self.match_tags)
        return f"template {self.template_id} on {self.source_node}"

    def capmox_fields(self) -> dict:
        if self.match_tags:
            return {"templateSelector": {"matchTags": list(self.match_tags)}}
        return {"sourceNode": self.source_node, "templateID": self.template_id}


@dataclass
class Mappings:
    """All mappings in one object; every field has a documented default."""

    pod: NetworkTarget | None = None
    networks: dict[str, NetworkTarget] = field(default_factory=dict)
    default_network: NetworkTarget = NetworkTarget(DEFAULT_BRIDGE)
    cluster: dict = field(default_factory=dict)
    storage_classes: dict[str, StorageTarget] = field(default_factory=dict)
    default_storage: StorageTarget = StorageTarget(DEFAULT_STORAGE)
    efi_storage: str | None = None
    snippets_storage: str = DEFAULT_SNIPPETS
    node: str = DEFAULT_NODE
    import_dir: str = DEFAULT_IMPORT_DIR
    templates: dict[str, TemplateTarget] = field(default_factory=dict)
    default_template: TemplateTarget = TemplateTarget(match_tags=(DEFAULT_TEMPLATE_TAG,))
    default_template_explicit: bool = False

    @classmethod
    def from_dicts(
        cls, network: dict | None = None, storage: dict | None = None, templates: dict | None = None
    ) -> Mappings:
        result = cls()
        if network:
            _apply_network(result, _object(network, ""))
        if storage:
            _apply_storage(result, _object(storage, ""))
        if templates:
            _apply_templates(result, _object(templates, ""))
        return result

    @classmethod
    def from_files(
        cls, network: str | Path | None = None, storage: str | Path | None = None, templates: str | Path | None = None
    ) -> Mappings:
        """Load map files; errors carry the file name as ``source``."""
        result = cls()
        for path, apply in ((network, _apply_network), (storage, _apply_storage), (templates, _apply_templates)):
            if path:
                data = load_map_file(path)
                _wrap(lambda data=data, apply=apply: apply(result, data), str(path))
        return result


def load_map_file(path: str | Path) -> dict:
    """Read a small YAML/JSON map file through the safe loader."""
    from .loader import Limits, load_documents

    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read map file: {exc.strerror}", source=source) from None
    docs = load_documents(data, Limits(max_bytes=_MAP_LIMIT, max_documents=1, max_alias_nodes=10_000), source)
    if not docs:
        return {}
    return _wrap(lambda: _object(docs[0].body, ""), source)


def _wrap(fn, source: str):
    try:
        return fn()
    except InputError as exc:
        raise exc.located(source=source) from None


def _object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise InputError("expected an object", path)
    return value


def _str(value: object, path: str, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise InputError("expected a non-empty string", path)
    if pattern is not None and not pattern.match(value):
        raise InputError(f'invalid value "{value[:60]}"', path)
    return value


def _int(value: object, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InputError(f"expected an integer between {low} and {high}", path)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _network_target(value: object, path: str) -> NetworkTarget:
    if isinstance(value, str):
        return NetworkTarget(_str(value, path))
    obj = _object(value, path)
    unknown = set(obj) - {"bridge", "vlan", "mtu"}
    if unknown:
        raise InputError("unknown field", _join(path, sorted(map(str, unknown))[0]))
    vlan = obj.get("vlan")
    mtu = obj.get("mtu")
    return NetworkTarget(
        bridge=_str(obj.get("bridge"), _join(path, "bridge")),
        vlan=None if vlan is None else _int(vlan, _join(path, "vlan"), 1, 4094),
        mtu=None if mtu is None else _int(mtu, _join(path, "mtu"), 1, 65520),
    )


def _apply_network(result: Mappings, data: dict) -> None:
    _no_unknown(data, {"pod", "networks", "default", "cluster"}, "")
    if data.get("pod") is not None:
        result.pod = _network_target(data["pod"], "pod")
    for name, target in _object(data.get("networks") or {}, "networks").items():
        result.networks[str(name)] = _network_target(target, f"networks.{name}")
    if data.get("default") is not None:
        result.default_network = _network_target(data["default"], "default")
    if data.get("cluster") is not None:
        cluster = _object(data["cluster"], "cluster")
        _no_unknown(
            cluster,
            {"ipv4Config", "ipv6Config", "dnsServers", "allowedNodes", "controlPlaneEndpoint"},
            "cluster",
        )
        result.cluster = cluster


def _str_list(value: object, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InputError("expected a non-empty list of strings", path)
    return [_str(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _cluster_settings(cluster: dict) -> dict:
    """ProxmoxCluster fields taken from the network map, checked against the capmox v1alpha2 shape."""
    out: dict = {}
    for family in ("ipv4Config", "ipv6Config"):
        if cluster.get(family) is None:
            continue
        path = f"cluster.{family}"
        pool = _object(cluster[family], path)
        _no_unknown(pool, {"addresses", "prefix", "gateway", "metric"}, path)
        checked: dict = {
            "addresses": _str_list(pool.get("addresses"), f"{path}.addresses"),
            "prefix": _int(pool.get("prefix"), f"{path}.prefix", 1, 128),
            "gateway": _str(pool.get("gateway"), f"{path}.gateway"),
        }
        if pool.get("metric") is not None:
            checked["metric"] = _int(pool["metric"], f"{path}.metric", 0, 2**31 - 1)
        out[family] = checked
    for key in ("dnsServers", "allowedNodes"):
        if cluster.get(key) is not None:
            out[key] = _str_list(cluster[key], f"cluster.{key}")
    if cluster.get("controlPlaneEndpoint") is not None:
        endpoint = _object(cluster["controlPlaneEndpoint"], "cluster.controlPlaneEndpoint")
        out["controlPlaneEndpoint"] = {
            "host": _str(endpoint.get("host"), "cluster.controlPlaneEndpoint.host"),
            "port": _int(endpoint.get("port", 6443), "cluster.controlPlaneEndpoint.port", 1, 65535),
        }
    return out


def _storage_target(value: object, path: str) -> StorageTarget:
    if isinstance(value, str):
        return StorageTarget(_str(value, path, _STORAGE_ID))
    obj = _object(value, path)
    _no_unknown(obj, {"storage", "format"}, path)
    fmt = obj.get("format", "raw")
    if fmt not in _FORMATS:
        raise InputError(f"expected one of {', '.join(_FORMATS)}", _join(path, "format"))
    return StorageTarget(_str(obj.get("storage"), _join(path, "storage"), _STORAGE_ID), fmt)


def _apply_storage(result: Mappings, data: dict) -> None:
    _no_unknown(data, {"storageClasses", "default", "efi", "snippets", "node", "importDir"}, "")
    for name, target in _object(data.get("storageClasses") or {}, "storageClasses").items():
        result.storage_classes[str(name)] = _storage_target(target, f"storageClasses.{name}")
    if data.get("default") is not None:
        result.default_storage = _storage_target(data["default"], "default")
    if data.get("efi") is not None:
        result.efi_storage = _str(data["efi"], "efi", _STORAGE_ID)
    if data.get("snippets") is not None:
        result.snippets_storage = _str(data["snippets"], "snippets", _STORAGE_ID)
    if data.get("node") is not None:
        result.node = _str(data["node"], "node", re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-.]*$"))
    if data.get("importDir") is not None:
        result.import_dir = _str(data["importDir"], "importDir", re.compile(r"^/[A-Za-z0-9_./\-]*$")).rstrip("/")


def _template_target(value: object, path: str) -> TemplateTarget:
    obj = _object(value, path)
    _no_unknown(obj, {"templateID", "sourceNode", "matchTags"}, path)
    if obj.get("matchTags") is not None:
        tags = obj["matchTags"]
        if not isinstance(tags, list) or not tags:
            raise InputError("expected a non-empty list of tags", _join(path, "matchTags"))
        return TemplateTarget(
            match_tags=tuple(_str(t, f"{_join(path, 'matchTags')}[{i}]", _TAG).lower() for i, t in enumerate(tags))
        )
    return TemplateTarget(
        template_id=_int(obj.get("templateID"), _join(path, "templateID"), 100, 999_999_999),
        source_node=_str(obj.get("sourceNode"), _join(path, "sourceNode")),
    )


def _apply_templates(result: Mappings, data: dict) -> None:
    _no_unknown(data, {"sources", "default"}, "")
    for key, target in _object(data.get("sources") or {}, "sources").items():
        result.templates[str(key)] = _template_target(target, f"sources.{key}")
    if data.get("default") is not None:
        result.default_template = _template_target(data["default"], "default")
        result.default_template_explicit = True


def _no_unknown(obj: dict, known: set[str], path: str) -> None:
    for key in obj:
        if key not in known:
            raise InputError(f"unknown field (expected one of {', '.join(sorted(known))})", _join(path, str(key)))
