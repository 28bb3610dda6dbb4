"""Provision N VMs against fakepve through a real Celery worker and print how close it gets to the ideal.

    python bench/provision.py --vms 100 --concurrency 8 --task-latency 0.2

Every Proxmox task (clone, config, resize, start, ...) takes --task-latency real seconds. The ideal time is
N x (tasks per VM) x latency / concurrency: the workers never idle and every second is spent inside a Proxmox task.
The ratio total/ideal shows the overhead (API calls, database, queueing). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _setup_django(db_path: Path, broker: str) -> None:
    # The worker is a separate process: it reads these knobs from the environment (provisioning/conf.py).
    os.environ["PROVISIONING_TASK_POLL_INTERVAL"] = "0.05"
    os.environ["PROVISIONING_MEMORY_ADJUSTMENT"] = "0"  # the fake's 8 GiB nodes would not hold 100 VMs otherwise
    os.environ["PROVISIONING_AGENT_WAIT"] = "0"
    os.environ.setdefault("DJANGO_DEBUG", "1")
    # IMMEDIATE: concurrent writers (worker processes) wait for the lock instead of failing.
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}?transaction_mode=IMMEDIATE"
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _broker() -> str:
    url = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=1)
        return url
    except Exception:
        return "memory://"


class FakeProxmox:
    """The demo fakepve in its own process (as a real Proxmox would be), every task taking `task_latency`."""

    def __init__(self, task_latency: float, workdir: Path):
        host = "127.0.0.1"
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        self.cafile = str(workdir / "fakepve-ca.crt")
        self.url = f"https://{host}:{port}"
        self.access_log = workdir / "fakepve-access.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.fakepve_demo",
                "--host",
                host,
                "--port",
                str(port),
                "--cafile",
                self.cafile,
                "--task-seconds",
                str(task_latency),
                "--access-log",
                str(self.access_log),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if "fakepve demo on" not in (self.proc.stdout.readline() or ""):
            raise SystemExit("fakepve did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def calls(self) -> Counter:
        """API requests by kind, from the server's access log."""
        counts: Counter = Counter()
        for line in self.access_log.read_text().splitlines():
            match = re.search(r'"(GET|POST|PUT|DELETE) (\S+) HTTP', line)
            if not match:
                continue
            method, path = match.group(1), match.group(2).split("?")[0]
            if method == "GET" and path.endswith(("/status", "/status/current")):
                counts["poll"] += 1
            else:
                counts[method.lower()] += 1
        return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8, help="Celery worker processes/threads")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads"], help="Celery worker pool")
    parser.add_argument("--task-latency", type=float, default=0.2, help="seconds every Proxmox task takes")
    parser.add_argument("--user-data", action="store_true", help="also build and attach a cidata ISO per VM")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-provision-"))
    broker = _broker()
    _setup_django(workdir / "bench.sqlite3", broker)
    fake = FakeProxmox(args.task_latency, workdir)
    try:
        _run(args, fake, broker)
    finally:
        fake.stop()  # never leave the fake server behind


def _run(args, fake: FakeProxmox, broker: str) -> None:

    from devstack.fakepve_demo import DEMO_TOKEN_ID, DEMO_TOKEN_SECRET
    from portal.models import ProxmoxEndpoint, Tenant, TenantNetwork, VMRequest
    from portal.states import FINAL_STATES, State
    from provisioning import tasks
    from provisioning.models import ProvisionStep
    from provisioning.sync import sync_endpoint_templates

    os.environ["BENCH_PVE_SECRET"] = DEMO_TOKEN_SECRET
    endpoint = ProxmoxEndpoint.objects.create(
        name="bench",
        api_url=fake.url,
        token_id=DEMO_TOKEN_ID,
        secret_env="BENCH_PVE_SECRET",
        ca_bundle=fake.cafile,
        is_default=True,
        vmid_range_start=200000,
        vmid_range_end=299999,
    )
    tenant = Tenant.objects.create(
        slug="bench", name="Bench", endpoint=endpoint, resource_pool="portal", storage="ceph-vm"
    )
    network = TenantNetwork.objects.create(tenant=tenant, name="lan", bridge="vmbr0", vlan=10)
    sync_endpoint_templates(endpoint)
    template = endpoint.ostemplate_set.get(vmid=9000)
    requests = [
        VMRequest.objects.create(
            tenant=tenant,
            name=f"bench{i}",
            state=State.APPROVED,
            sockets=1,
            cores=1,
            memory_mib=512,
            template=template,
            disk_gib=10,
            network=network,
            ssh_keys="ssh-ed25519 AAAAC3Nza bench@example",
            user_data="#cloud-config\npackages: [htop]\n" if args.user_data else "",
        )
        for i in range(args.vms)
    ]
    ids = [r.pk for r in requests]
    calls_before = fake.calls()

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            args.pool,
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            os.environ.get("BENCH_LOGLEVEL", "WARNING"),
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=REPO,
        env=os.environ.copy(),
    )
    try:
        started = time.monotonic()
        for pk in ids:
            tasks.provision_vm.delay(pk)
        while VMRequest.objects.filter(pk__in=ids, state__in=FINAL_STATES).count() < len(ids):
            if worker.poll() is not None:
                raise SystemExit("the Celery worker exited")
            time.sleep(0.2)
        total = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(30)
    calls = fake.calls() - calls_before
    polling = calls["poll"]
    mutating = calls["post"] + calls["put"] + calls["delete"]
    reads = calls["get"]
    ready = VMRequest.objects.filter(pk__in=ids, state=State.READY).count()
    tasks_per_vm = ProvisionStep.objects.filter(request_id__in=ids).exclude(upid="").count() / len(ids)
    ideal = len(ids) * tasks_per_vm * args.task_latency / args.concurrency
    print(f"broker                 {broker.split('://')[0]}")
    print(f"VMs                    {len(ids)} ({ready} ready)")
    print(f"worker concurrency     {args.concurrency} ({args.pool})")
    print(f"task latency           {args.task_latency:.3f} s, {tasks_per_vm:.1f} Proxmox tasks per VM")
    print(f"total time             {total:.2f} s")
    print(f"ideal time             {ideal:.2f} s")
    print(f"ratio total/ideal      {total / ideal:.2f}" if ideal else "ratio total/ideal      n/a")
    print(
        f"API calls per VM       mutating {mutating / len(ids):.1f}, polling {polling / len(ids):.1f}, "
        f"other reads {reads / len(ids):.1f}"
    )


if __name__ == "__main__":
    main()
