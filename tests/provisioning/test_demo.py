"""The demo launcher: a separate fakepve process with the demo inventory over verified HTTPS."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, boot_guest_agents
from provisioning.proxmox import operations as ops
from provisioning.proxmox.client import ProxmoxClient

REPO = Path(__file__).resolve().parents[2]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def test_demo_launcher_serves_the_inventory(tmp_path):
    host = "127.0.0.1"
    port = _free_port(host)
    cafile = tmp_path / "ca.crt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.fakepve_demo", "--host", host, "--port", str(port), "--cafile", str(cafile)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert f"https://{host}:{port}" in line and str(cafile) in line and DEMO_TOKEN_ID in line
        assert DEMO_TOKEN_SECRET not in line  # the secret is never printed
        client = ProxmoxClient(f"https://{host}:{port}", DEMO_TOKEN_ID, DEMO_TOKEN_SECRET, verify=str(cafile))
        assert {n["node"] for n in client.get("nodes")} == {"pve1", "pve2"}
        storages = {s["storage"]: s for s in client.get("nodes/pve1/storage")}
        assert {"local", "local-lvm", "ceph-vm"} <= set(storages) and storages["ceph-vm"]["shared"] == 1
        assert ops.iso_storages(client, "pve1") == ["local"]
        assert "portal" in {p["poolid"] for p in client.get("pools")}
        templates = {t.vmid: t for t in ops.list_templates(client)}
        assert {v: t.node for v, t in templates.items()} == {9000: "pve1", 9001: "pve1", 9002: "pve2"}
        assert templates[9000].cloud_init and templates[9001].cloud_init and not templates[9002].cloud_init
    finally:
        proc.terminate()
        proc.wait(10)


def test_rejects_non_loopback_hosts():
    result = subprocess.run(
        [sys.executable, "-m", "devstack.fakepve_demo", "--host", "0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "loopback" in result.stderr


@pytest.mark.django_db
def test_demo_guest_agents_report_addresses(pve, px):
    pve.add_vm(300, "static", node="pve1", status="running", config={"agent": "1", "ipconfig0": "ip=10.1.2.3/24"})
    pve.add_vm(301, "dhcp", node="pve1", status="running", config={"agent": "enabled=1"})
    pve.add_vm(302, "off", node="pve1", status="stopped", config={"agent": "1"})
    assert boot_guest_agents(pve) == 2
    assert ops.guest_addresses(px, "pve1", 300) == ["10.1.2.3"]
    assert ops.guest_addresses(px, "pve1", 301) == ["10.99.1.53"]
    assert ops.guest_addresses(px, "pve1", 302) is None
