"""NoCloud seed ISO (volume label `cidata`) in pure Python: ISO 9660 plus Joliet names, as `genisoimage -J` makes.

cloud-init's NoCloud datasource finds the disk by its label and reads `user-data`, `meta-data` and
`network-config` from the root directory. The Joliet tree carries those long lower-case names; the primary
tree carries 8.3 names for readers without Joliet.
"""

from __future__ import annotations

import datetime as dt
import struct

import yaml

SECTOR = 2048
LABEL = "cidata"


def _both16(value: int) -> bytes:
    return struct.pack("<H", value) + struct.pack(">H", value)


def _both32(value: int) -> bytes:
    return struct.pack("<I", value) + struct.pack(">I", value)


def _dir_date(when: dt.datetime) -> bytes:
    return bytes([when.year - 1900, when.month, when.day, when.hour, when.minute, when.second, 0])


def _vd_date(when: dt.datetime) -> bytes:
    return when.strftime("%Y%m%d%H%M%S00").encode() + b"\x00"


def _record(ident: bytes, extent: int, size: int, when: dt.datetime, is_dir: bool) -> bytes:
    length = 33 + len(ident) + (1 if len(ident) % 2 == 0 else 0)
    rec = bytes([length, 0]) + _both32(extent) + _both32(size) + _dir_date(when)
    rec += bytes([2 if is_dir else 0, 0, 0]) + _both16(1) + bytes([len(ident)]) + ident
    return rec.ljust(length, b"\x00")


def _primary_name(name: str) -> bytes:
    """`network-config` -> `NETWORK_.;1`: ISO 9660 level 1 d-characters."""
    stem = "".join(c if c.isalnum() else "_" for c in name.upper())[:8]
    return f"{stem}.;1".encode("ascii")


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % SECTOR)


def _text(value: str, size: int, joliet: bool) -> bytes:
    """A space-padded descriptor field: ASCII, or UCS-2 big-endian for Joliet."""
    if joliet:
        return (value.encode("utf-16-be") + "\u0020".encode("utf-16-be") * size)[:size]
    return value.encode("ascii").ljust(size, b" ")[:size]


def build_iso(files: dict[str, bytes], label: str = LABEL, when: dt.datetime | None = None) -> bytes:
    """An ISO 9660 image (with Joliet) holding `files` in its root directory."""
    when = (when or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    names = sorted(files)
    # Layout: 16 system sectors, PVD, Joliet SVD, terminator, 4 path tables, 2 root dirs, then file data.
    path_l, path_m, jpath_l, jpath_m, root, jroot = 19, 20, 21, 22, 23, 24
    extents, next_free = {}, 25
    for name in names:
        extents[name] = next_free
        next_free += max(1, -(-len(files[name]) // SECTOR))
    total = next_free

    def root_dir(joliet: bool) -> bytes:
        me = jroot if joliet else root
        body = _record(b"\x00", me, SECTOR, when, True) + _record(b"\x01", me, SECTOR, when, True)
        entries = []
        for name in names:
            ident = name.encode("utf-16-be") if joliet else _primary_name(name)
            entries.append((ident, _record(ident, extents[name], len(files[name]), when, False)))
        for _ident, rec in sorted(entries):
            body += rec
        if len(body) > SECTOR:
            raise ValueError("too many files for a one-sector root directory")
        return _pad(body)

    def path_table(extent: int, little: bool) -> bytes:
        loc = struct.pack("<I" if little else ">I", extent)
        parent = struct.pack("<H" if little else ">H", 1)
        return _pad(bytes([1, 0]) + loc + parent + b"\x00\x00")

    def descriptor(joliet: bool) -> bytes:
        me_root = jroot if joliet else root
        vd = bytes([2 if joliet else 1]) + b"CD001" + b"\x01\x00"
        vd += _text("LINUX", 32, joliet) + _text(label, 32, joliet) + b"\x00" * 8 + _both32(total)
        vd += (b"%/E" + b"\x00" * 29) if joliet else b"\x00" * 32
        vd += _both16(1) + _both16(1) + _both16(SECTOR) + _both32(10)
        vd += struct.pack("<I", jpath_l if joliet else path_l) + b"\x00" * 4
        vd += struct.pack(">I", jpath_m if joliet else path_m) + b"\x00" * 4
        vd += _record(b"\x00", me_root, SECTOR, when, True)
        vd += _text("", 128, joliet) * 3 + _text("PROXMOX PORTAL", 128, joliet)
        vd += _text("", 37, joliet) * 3
        stamp = _vd_date(when)
        vd += stamp + stamp + b"0" * 16 + b"\x00" + stamp + b"\x01\x00"
        return _pad(vd)

    image = bytearray(b"\x00" * (16 * SECTOR))
    image += descriptor(False) + descriptor(True)
    image += _pad(b"\xff" + b"CD001" + b"\x01")
    image += path_table(root, True) + path_table(root, False) + path_table(jroot, True) + path_table(jroot, False)
    image += root_dir(False) + root_dir(True)
    for name in names:
        image += _pad(files[name]) if files[name] else b"\x00" * SECTOR
    assert len(image) == total * SECTOR
    return bytes(image)


def seed_files(*, hostname: str, instance_id: str, user_data: str, network_config: dict | None) -> dict[str, bytes]:
    """The three NoCloud files. User data is passed through as the user wrote it (it must start with #cloud-config
    or #! to be understood by cloud-init)."""
    meta = {"instance-id": instance_id, "local-hostname": hostname, "hostname": hostname}
    network = network_config or {"version": 2, "ethernets": {}}
    return {
        "user-data": user_data.encode(),
        "meta-data": yaml.safe_dump(meta, sort_keys=False).encode(),
        "network-config": yaml.safe_dump(network, sort_keys=False).encode(),
    }


def network_config(mac: str | None, address: str = "", gateway: str = "", dns: list[str] | None = None) -> dict:
    """netplan v2 for the first NIC: DHCP, or a static address (CIDR form) with gateway and DNS."""
    eth: dict = {"match": {"macaddress": mac.lower()}, "set-name": "eth0"} if mac else {}
    if address:
        eth["addresses"] = [address]
        if gateway:
            eth["routes"] = [{"to": "default", "via": gateway}]
        if dns:
            eth["nameservers"] = {"addresses": list(dns)}
    else:
        eth["dhcp4"] = True
    return {"version": 2, "ethernets": {"eth0": eth}}
