"""Page latency on a large installation, as ratios to a trivial view measured in the same run.

    .venv/bin/python bench/pages.py [--tenants 1000] [--vms 50000] [--events 200000] [--clients 20] [--requests 400]

Seeds a separate database (var/bench.sqlite3 unless BENCH_DATABASE_URL is set) once, starts the portal in a
subprocess (Django's threaded server), then drives each page with N concurrent logged-in clients and prints p50/p95
per page next to /healthz (no database, no template), and their ratio. Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()


def seed(tenants: int, vms: int, events: int) -> None:
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command

    from portal.models import (
        AuditEvent,
        Membership,
        OSTemplate,
        Quota,
        Role,
        Tenant,
        TenantNetwork,
        VMRequest,
    )
    from portal.states import State

    call_command("migrate", verbosity=0)
    if VMRequest.objects.count() >= vms:
        print(f"reusing the seeded database ({DB_URL})")
        return
    started = time.monotonic()
    template, _ = OSTemplate.objects.get_or_create(name="ubuntu-24.04", defaults={"vmid": 9000, "node": "pve1"})
    Tenant.objects.bulk_create(
        [Tenant(slug=f"t{i:05d}", name=f"Tenant {i}") for i in range(tenants)], ignore_conflicts=True
    )
    all_tenants = list(Tenant.objects.order_by("pk"))
    Quota.objects.bulk_create([Quota(tenant=t, vcpus=10_000, vms=10_000) for t in all_tenants], ignore_conflicts=True)
    TenantNetwork.objects.bulk_create(
        [TenantNetwork(tenant=t, name="default", bridge="vmbr0", vlan=100) for t in all_tenants], ignore_conflicts=True
    )
    networks = {n.tenant_id: n for n in TenantNetwork.objects.all()}
    member, _ = User.objects.get_or_create(username="bench")
    member.set_password("bench")
    member.save()
    admin, _ = User.objects.get_or_create(username="benchadmin", defaults={"is_staff": True, "is_superuser": True})
    admin.set_password("bench")
    admin.save()
    admin.user_permissions.add(*Permission.objects.filter(codename__startswith="approve_"))
    Membership.objects.get_or_create(user=member, tenant=all_tenants[0], defaults={"role": Role.USE})
    states = [State.READY] * 6 + [State.PENDING_APPROVAL, State.FAILED, State.DELETED, State.PROVISIONING]
    rng = random.Random(1)
    batch = []
    for i in range(vms):
        tenant = all_tenants[0] if i % 10 == 0 else rng.choice(all_tenants)  # the bench user's tenant is big
        batch.append(
            VMRequest(
                tenant=tenant,
                name=f"vm-{i}",
                template=template,
                sockets=1,
                cores=rng.choice([1, 2, 4]),
                memory_mib=rng.choice([1024, 4096, 8192]),
                disk_gib=20,
                network=networks[tenant.pk],
                state=states[i % len(states)],
                requested_by=member,
            )
        )
        if len(batch) == 5000:
            VMRequest.objects.bulk_create(batch)
            batch = []
    VMRequest.objects.bulk_create(batch)
    vm_ids = list(VMRequest.objects.values_list("pk", "tenant_id"))
    batch = []
    for i in range(events):
        pk, tenant_id = vm_ids[i % len(vm_ids)]
        batch.append(
            AuditEvent(
                actor_name="bench",
                tenant_id=tenant_id,
                object_type="vm",
                object_id=pk,
                object_repr=f"vm-{pk}",
                action="submitted" if i % 3 else "approved",
                to_state=State.PENDING_APPROVAL,
            )
        )
        if len(batch) == 10000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    print(f"seeded {tenants} tenants, {vms} VM requests, {events} audit events in {time.monotonic() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=DB_URL, DJANGO_DEBUG="1", DJANGO_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"]
        if os.environ.get("BENCH_NOTHREADING")
        else [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the portal did not start")


def session(base: str, username: str):
    import requests

    s = requests.Session()
    page = s.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    s.post(f"{base}/accounts/login/", data={"username": username, "password": "bench", "csrfmiddlewaretoken": token})
    return s


def measure(base: str, path: str, username: str, clients: int, total: int) -> list[float]:
    sessions = [session(base, username) for _ in range(clients)]
    per_client = max(total // clients, 1)

    def run(s):
        timings = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            response = s.get(base + path)
            timings.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
        return timings

    with ThreadPoolExecutor(clients) as pool:
        return [t for chunk in pool.map(run, sessions) for t in chunk]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(int(q * len(values)), len(values) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="requests per page, spread over the clients")
    args = parser.parse_args()
    setup_django()
    seed(args.tenants, args.vms, args.events)
    from portal.models import VMRequest

    sample_vm = VMRequest.objects.filter(tenant__slug="t00000").order_by("-pk").first()
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    pages = [
        ("/healthz", "bench", "trivial view (baseline)"),
        ("/", "bench", "dashboard"),
        ("/vms/", "bench", "VM list"),
        ("/vms/?state=ready&sort=name", "bench", "VM list, filtered+sorted"),
        (f"/vms/{sample_vm.pk}/", "bench", "VM detail"),
        ("/api/vms/", "bench", "API VM list"),
        ("/approvals/", "benchadmin", "approval queue"),
        ("/audit/", "benchadmin", "audit log"),
    ]
    try:
        results = []
        for path, user, label in pages:
            timings = measure(base, path, user, args.clients, args.requests)
            results.append((label, path, statistics.median(timings), pct(timings, 0.95)))
    finally:
        server.terminate()
        server.wait(10)
    base_p50, base_p95 = results[0][2], results[0][3]
    print(f"\n{args.clients} concurrent clients, {args.requests} requests per page, database {DB_URL.split(':')[0]}")
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'p50 ratio':>10} {'p95 ratio':>10}")
    for label, _path, p50, p95 in results:
        print(f"{label:<28} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {p50 / base_p50:10.1f} {p95 / base_p95:10.1f}")


if __name__ == "__main__":
    main()
