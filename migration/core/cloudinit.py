"""Cloud-init user/network data and SSH keys of a VM, resolved against Secrets in the input."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import yaml

from .errors import InputError
from .inventory import secret_values
from .loader import Limits, _check_expansion, _Loader

_EMBEDDED_LIMIT = 1024 * 1024
_EMBEDDED_LIMITS = Limits(max_bytes=_EMBEDDED_LIMIT, max_documents=1, max_alias_nodes=20_000)
_IFACE_NAME = re.compile(r"^(eth|ens|enp|eno|enx|em)\d")


@dataclass
class CloudInit:
    kind: str  # nocloud | configdrive
    volume: str
    path: str
    user_data: str | None = None
    user_data_base64: str | None = None  # only when the bytes are not UTF-8
    user_source: str | None = None  # inline | base64 | secret:<name>
    network_data: str | None = None
    network_source: str | None = None
    missing_secrets: list[tuple[str, str]] = field(default_factory=list)  # (name, path)

    _network: NetworkConfig | None = None

    @property
    def network(self) -> NetworkConfig:
        """Parsed network data (cached: the qm builder and a rule both need it)."""
        if self._network is None:
            self._network = parse_network_data(self.network_data)
        return self._network

    @property
    def is_ignition(self) -> bool:
        text = (self.user_data or "").lstrip()
        return text.startswith("{") and '"ignition"' in text


def _decode_b64(value: str, path: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("invalid base64", path) from None


def _secret_text(values: dict, keys: tuple[str, ...]) -> str | bytes | None:
    for key in keys:
        if key in values:
            return values[key]
    return None


def read_cloud_init(volume: dict, kind_key: str, path: str, inventory, namespace: str) -> CloudInit:
    """Resolve a ``cloudInitNoCloud``/``cloudInitConfigDrive`` volume (inline, base64 or Secret)."""
    source = volume.get(kind_key) or {}
    result = CloudInit("nocloud" if kind_key == "cloudInitNoCloud" else "configdrive", volume.get("name", ""), path)
    src_path = f"{path}.{kind_key}"
    user: str | bytes | None = None
    if isinstance(source.get("userData"), str):
        user, result.user_source = source["userData"], "inline"
    elif isinstance(source.get("userDataBase64"), str):
        user, result.user_source = (
            _decode_b64(source["userDataBase64"], f"{src_path}.userDataBase64"),
            "base64",
        )
    elif isinstance((source.get("secretRef") or {}).get("name"), str):
        name = source["secretRef"]["name"]
        secret = inventory.get("Secret", namespace, name)
        if secret is None:
            result.missing_secrets.append((name, f"{src_path}.secretRef"))
        else:
            user = _secret_text(secret_values(secret), ("userdata", "userData"))
            result.user_source = f"secret:{name}"
    if isinstance(user, bytes):
        try:
            user = user.decode("utf-8")
        except UnicodeDecodeError:
            result.user_data_base64 = base64.b64encode(user).decode("ascii")
            user = None
    result.user_data = user
    network: str | bytes | None = None
    if isinstance(source.get("networkData"), str):
        network, result.network_source = source["networkData"], "inline"
    elif isinstance(source.get("networkDataBase64"), str):
        network = _decode_b64(source["networkDataBase64"], f"{src_path}.networkDataBase64")
        result.network_source = "base64"
    elif isinstance((source.get("networkDataSecretRef") or {}).get("name"), str):
        name = source["networkDataSecretRef"]["name"]
        secret = inventory.get("Secret", namespace, name)
        if secret is None:
            result.missing_secrets.append((name, f"{src_path}.networkDataSecretRef"))
        else:
            network = _secret_text(secret_values(secret), ("networkdata", "networkData"))
            result.network_source = f"secret:{name}"
    if isinstance(network, bytes):
        network = network.decode("utf-8", errors="replace")
    result.network_data = network
    return result


def parse_embedded_yaml(text: str | None) -> object:
    """Best-effort parse of user/network data; None when it is not (safe, small) YAML."""
    if not text or len(text) > _EMBEDDED_LIMIT:
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from (C)SafeLoader
        if "&" in text:
            _check_expansion(data, _EMBEDDED_LIMITS, 0, "")
    except (yaml.YAMLError, InputError, ValueError, RecursionError, OverflowError, TypeError):
        return None
    return data


def cloud_config_user(user_data: str | None) -> str | None:
    """The default user of a ``#cloud-config`` (``user:`` or the first non-default ``users:`` entry)."""
    if not user_data or not user_data.startswith("#cloud-config") or "user" not in user_data:
        return None
    data = parse_embedded_yaml(user_data)
    if not isinstance(data, dict):
        return None
    user = data.get("user")
    if isinstance(user, dict):
        user = user.get("name")
    if isinstance(user, str) and user:
        return user
    users = data.get("users")
    if isinstance(users, list):
        for entry in users:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str) and name and name != "default":
                return name
    return None


@dataclass
class NetworkConfig:
    """Per-NIC addressing derived from cloud-init network data (v1 or v2)."""

    by_index: dict[int, str] = field(default_factory=dict)  # nic index -> qm ipconfig value
    names_interfaces: list[str] = field(default_factory=list)
    matches_mac: bool = False


def _ipconfig(dhcp4: bool, dhcp6: bool, addresses: list, gateway4: str | None, gateway6: str | None) -> str:
    parts = []
    v4 = [a for a in addresses if isinstance(a, str) and ":" not in a]
    v6 = [a for a in addresses if isinstance(a, str) and ":" in a]
    if dhcp4:
        parts.append("ip=dhcp")
    elif v4:
        parts.append(f"ip={v4[0]}" + (f",gw={gateway4}" if gateway4 else ""))
    if dhcp6:
        parts.append("ip6=dhcp")
    elif v6:
        parts.append(f"ip6={v6[0]}" + (f",gw6={gateway6}" if gateway6 else ""))
    return ",".join(parts) or "ip=dhcp"


def _slot_for(name: str, position: int) -> int:
    match = re.match(r"^eth(\d+)$", name)
    return int(match.group(1)) if match else position


def parse_network_data(text: str | None) -> NetworkConfig:
    result = NetworkConfig()
    data = parse_embedded_yaml(text)
    if isinstance(data, dict) and isinstance(data.get("network"), dict):
        data = data["network"]
    if not isinstance(data, dict):
        return result
    ethernets = data.get("ethernets")
    if isinstance(ethernets, dict):  # netplan v2
        for position, (name, conf) in enumerate(ethernets.items()):
            name = str(name)
            conf = conf if isinstance(conf, dict) else {}
            if _IFACE_NAME.match(name) and not isinstance(conf.get("match"), dict):
                result.names_interfaces.append(name)
            if isinstance(conf.get("match"), dict) and "macaddress" in conf["match"]:
                result.matches_mac = True
            addresses = conf.get("addresses") if isinstance(conf.get("addresses"), list) else []
            gw4 = conf.get("gateway4") if isinstance(conf.get("gateway4"), str) else None
            gw6 = conf.get("gateway6") if isinstance(conf.get("gateway6"), str) else None
            result.by_index[_slot_for(name, position)] = _ipconfig(
                conf.get("dhcp4") is True, conf.get("dhcp6") is True, addresses, gw4, gw6
            )
        return result
    config = data.get("config")
    if isinstance(config, list):  # v1
        position = 0
        for entry in config:
            if not isinstance(entry, dict) or entry.get("type") != "physical":
                continue
            name = str(entry.get("name", ""))
            if _IFACE_NAME.match(name):
                result.names_interfaces.append(name)
            if entry.get("mac_address"):
                result.matches_mac = True
            subnets = entry.get("subnets") if isinstance(entry.get("subnets"), list) else []
            dhcp4 = any(isinstance(s, dict) and s.get("type") in ("dhcp", "dhcp4") for s in subnets)
            dhcp6 = any(isinstance(s, dict) and s.get("type") == "dhcp6" for s in subnets)
            statics = [s for s in subnets if isinstance(s, dict) and s.get("type") == "static"]
            addresses = [str(s.get("address")) for s in statics if s.get("address")]
            gateway = next((str(s["gateway"]) for s in statics if s.get("gateway")), None)
            result.by_index[_slot_for(name, position)] = _ipconfig(dhcp4, dhcp6, addresses, gateway, None)
            position += 1
    return result


@dataclass
class SshKeys:
    keys: list[str] = field(default_factory=list)
    agent_users: list[str] = field(default_factory=list)
    missing_secrets: list[tuple[str, str]] = field(default_factory=list)
    password_credentials: list[str] = field(default_factory=list)  # paths


def read_ssh_keys(credentials: list | None, path: str, inventory, namespace: str) -> SshKeys:
    """Keys from ``accessCredentials[].sshPublicKey`` Secrets, in order, de-duplicated."""
    result = SshKeys()
    seen: set[str] = set()
    for i, cred in enumerate(credentials or []):
        if not isinstance(cred, dict):
            continue
        cred_path = f"{path}[{i}]"
        if cred.get("userPassword") is not None:
            result.password_credentials.append(f"{cred_path}.userPassword")
        ssh = cred.get("sshPublicKey")
        if not isinstance(ssh, dict):
            continue
        method = ssh.get("propagationMethod") or {}
        agent = method.get("qemuGuestAgent")
        if isinstance(agent, dict):
            result.agent_users.extend(u for u in agent.get("users") or [] if isinstance(u, str))
        name = ((ssh.get("source") or {}).get("secret") or {}).get("secretName")
        if not isinstance(name, str):
            continue
        secret = inventory.get("Secret", namespace, name)
        if secret is None:
            result.missing_secrets.append((name, f"{cred_path}.sshPublicKey.source.secret"))
            continue
        values = secret_values(secret)
        for key in sorted(values):
            value = values[key]
            if isinstance(value, bytes):
                continue
            for line in value.splitlines():
                line = line.strip()
                if line and not line.startswith("#") and line not in seen:
                    seen.add(line)
                    result.keys.append(line)
    return result
