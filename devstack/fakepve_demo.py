"""Demo Proxmox VE for the portal: fakepve with a small cluster, served over verified HTTPS.

Development only (fakepve is a test dependency). Run it on a 127.0.0.x address:

    python -m devstack.fakepve_demo --host 127.0.0.2 --port 8006 --cafile var/fakepve-ca.crt

It prints the API URL, the CA file, the token id and the environment variable that holds the token secret, so the
portal can register the endpoint. `populate(pve)` applies the same inventory to the `fakepve` pytest fixture.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

DEMO_TOKEN_ID = "root@pam!portal"
DEMO_TOKEN_SECRET = "11111111-2222-3333-4444-555555555555"
DEMO_SECRET_ENV = "PORTAL_DEMO_PVE_SECRET"  # the demo runner exports the secret under this name

_CLOUDINIT_COMMON = {
    "template": 1,
    "ostype": "l26",
    "cores": 2,
    "sockets": 1,
    "scsihw": "virtio-scsi-single",
    "boot": "order=scsi0",
    "serial0": "socket",
    "vga": "serial0",
    "agent": "enabled=1",
    "ipconfig0": "ip=dhcp",
}

# The inventory: two nodes, a file storage for ISOs, local LVM-thin and a shared Ceph RBD pool, one resource pool,
# one API token and three templates (two with a cloud-init drive, Talos without).
DEMO_SPEC: dict = {
    "nodes": ["pve1", "pve2"],
    "storages": {
        "local": {"type": "dir", "path": "/var/lib/vz", "content": "iso,vztmpl,backup,snippets"},
        "local-lvm": {"type": "lvmthin", "vgname": "pve", "thinpool": "data", "content": "images,rootdir"},
        "ceph-vm": {"type": "rbd", "pool": "vm-pool"},
    },
    "pools": ["portal"],
    "tokens": {DEMO_TOKEN_ID: DEMO_TOKEN_SECRET},
    "guests": [
        {
            "vmid": 9000,
            "name": "ubuntu-24.04-cloudinit",
            "node": "pve1",
            "template": True,
            "config": dict(
                _CLOUDINIT_COMMON,
                memory=2048,
                cpu="x86-64-v2-AES",
                scsi0="local-lvm:base-9000-disk-0,iothread=1,size=3584M",
                ide2="local-lvm:vm-9000-cloudinit,media=cdrom",
                net0="virtio=BC:24:11:00:90:00,bridge=vmbr0",
                ciuser="ubuntu",
                tags="cloudinit;ubuntu",
                description="Ubuntu 24.04 LTS cloud image",
            ),
        },
        {
            "vmid": 9001,
            "name": "debian-12-cloudinit",
            "node": "pve1",
            "template": True,
            "config": dict(
                _CLOUDINIT_COMMON,
                memory=2048,
                scsi0="local-lvm:base-9001-disk-0,iothread=1,size=2G",
                ide2="local-lvm:vm-9001-cloudinit,media=cdrom",
                net0="virtio=BC:24:11:00:90:01,bridge=vmbr0",
                ciuser="debian",
                tags="cloudinit;debian",
                description="Debian 12 generic cloud image",
            ),
        },
        {
            "vmid": 9002,
            "name": "talos-1.10",
            "node": "pve2",
            "template": True,
            "config": {
                "template": 1,
                "ostype": "l26",
                "cores": 2,
                "sockets": 1,
                "memory": 4096,
                "scsihw": "virtio-scsi-single",
                "scsi0": "local-lvm:base-9002-disk-0,iothread=1,size=10G",
                "boot": "order=scsi0",
                "net0": "virtio=BC:24:11:00:90:02,bridge=vmbr0",
                "agent": "enabled=1",
                "tags": "talos",
                "description": "Talos Linux nocloud image",
            },
        },
    ],
}


def populate(pve, spec: dict | None = None):
    """Apply the demo inventory (or `spec`) to a FakePve, started or not; returns it."""
    spec = DEMO_SPEC if spec is None else spec
    for node in spec.get("nodes", []):
        pve.add_node(node)
    for name, store in spec.get("storages", {}).items():
        extra = {k: v for k, v in store.items() if k not in ("type", "pool")}
        if store.get("type") == "rbd":
            pve.add_ceph_storage(name, store.get("pool", "rbd"))  # rbd with shared=1
            pve.storages[name].update(extra)
        else:
            pve.storages[name] = dict(store, active=1, files=set())
    for pool in spec.get("pools", []):
        pve.pools.setdefault(pool, set())
    pve.apitokens.update(spec.get("tokens", {}))
    for guest in spec.get("guests", []):
        vm = pve.add_vm(
            guest["vmid"],
            guest["name"],
            node=guest.get("node", "pve1"),
            status=guest.get("status", "stopped"),
            config=json.loads(json.dumps(guest.get("config", {}))),  # each fake gets its own copy
            template=guest.get("template", False),
            lock=guest.get("lock"),
        )
        for key in ("shutdown_secs", "start_secs", "stop_secs", "start_error"):
            if key in guest:
                setattr(vm, key, guest[key])
    return pve


def _guest_address(vm) -> str:
    """The address the guest would get: its static ipconfig0, else a made-up DHCP lease."""
    ipconfig = str(vm.config.get("ipconfig0", ""))
    if ipconfig.startswith("ip=") and not ipconfig.startswith("ip=dhcp"):
        return ipconfig[3:].split(",")[0].split("/")[0]
    return f"10.99.{vm.vmid // 250 % 250}.{vm.vmid % 250 + 2}"


def boot_guest_agents(pve) -> int:
    """Give every running clone with `agent` enabled a guest agent that reports its address (fakepve's
    clones have none), as a cloud image with qemu-guest-agent would after boot. Returns how many it started."""
    started = 0
    for vm in list(pve.vms):
        agent = str(vm.config.get("agent", "0")).split(",")[0]
        if vm.template or vm.status != "running" or vm.agent is not None or agent not in ("1", "enabled=1"):
            continue
        vm.agent = {
            "interfaces": [
                {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
                {
                    "name": "eth0",
                    "ip-addresses": [{"ip-address": _guest_address(vm), "ip-address-type": "ipv4", "prefix": 24}],
                },
            ]
        }
        started += 1
    return started


async def _agents_forever(pve, every: float = 1.0) -> None:
    while True:
        boot_guest_agents(pve)
        await asyncio.sleep(every)


def slow_tasks(pve, seconds: float) -> None:
    """Make every Proxmox task take `seconds` (fakepve models no copy or boot time), so a person can watch the
    pipeline move and the benchmark can model real task latency. Needs time_scale > 0 (tasks in the background)."""
    original = pve.task

    async def task(node, ttype, tid, user, body, **kwargs):
        async def slow_body():
            await asyncio.sleep(seconds)
            return await body()

        return await original(node, ttype, tid, user, slow_body, **kwargs)

    pve.task = task


def register_endpoint(url: str, cafile: Path, secret_file: Path, name: str = "demo") -> str:
    """Record this fake as the portal's default Proxmox endpoint and sync its templates into the catalog.
    The token secret goes to a 0600 file the endpoint points at (never into the database)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from portal.models import ProxmoxEndpoint
    from provisioning.sync import sync_endpoint_templates

    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.touch(mode=0o600)
    secret_file.write_text(DEMO_TOKEN_SECRET)
    endpoint, _ = ProxmoxEndpoint.objects.update_or_create(
        name=name,
        defaults={
            "api_url": url,
            "token_id": DEMO_TOKEN_ID,
            "secret_file": str(secret_file.resolve()),
            "secret_env": "",
            "verify_tls": True,
            "ca_bundle": str(cafile.resolve()),
            "enabled": True,
        },
    )
    ProxmoxEndpoint.objects.exclude(pk=endpoint.pk).update(is_default=False)
    ProxmoxEndpoint.objects.filter(pk=endpoint.pk).update(is_default=True)
    result = sync_endpoint_templates(endpoint)
    return f"endpoint '{name}' registered; templates: {result['created']} new, {result['updated']} updated"


async def _serve(args) -> None:
    from fakepve import FakePve
    from fakepve.certs import make_cert

    if args.access_log:  # one line per API call: the benchmark counts them here, on the server's side
        handler = logging.FileHandler(args.access_log)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access = logging.getLogger("aiohttp.access")
        access.setLevel(logging.INFO)
        access.addHandler(handler)
    pve = populate(FakePve(host=args.host, port=args.port))
    pve.time_scale = args.time_scale
    if args.task_seconds > 0:
        pve.time_scale = pve.time_scale or 1e-6
        slow_tasks(pve, args.task_seconds)
    cafile = Path(args.cafile)
    cafile.parent.mkdir(parents=True, exist_ok=True)
    pki = tempfile.mkdtemp(prefix="fakepve-")
    try:
        cert, key, _ = make_cert(pki, hosts=(args.host,))
        shutil.copyfile(cert, cafile)  # the portal verifies TLS against this file
        await pve.start(cert, key)
    finally:
        shutil.rmtree(pki, ignore_errors=True)
    agents = asyncio.ensure_future(_agents_forever(pve))  # noqa: F841 - kept alive with the loop
    print(f"fakepve demo on {pve.url} (CA file {cafile}, token {DEMO_TOKEN_ID}, pid {os.getpid()})", flush=True)
    if args.register:
        loop = asyncio.get_running_loop()
        secret_file = Path(args.secret_file)
        print(await loop.run_in_executor(None, register_endpoint, pve.url, cafile, secret_file), flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Demo Proxmox VE (fakepve) for the portal.")
    parser.add_argument("--host", default="127.0.0.2", help="a 127.0.0.x address")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--time-scale", type=float, default=0.05, help="real seconds per PVE second")
    parser.add_argument("--task-seconds", type=float, default=0.0, help="real seconds every Proxmox task takes")
    parser.add_argument("--cafile", default=os.path.join(tempfile.gettempdir(), "fakepve-demo-ca.crt"))
    parser.add_argument(
        "--register",
        action="store_true",
        help="record it as the portal's default endpoint and sync templates (needs the database)",
    )
    parser.add_argument("--access-log", help="write one line per API request to this file")
    parser.add_argument("--secret-file", default="var/fakepve-demo-token", help="where --register puts the secret")
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the demo Proxmox listens on loopback addresses only")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
