"""`make demo`: the whole portal on one machine, with fake Proxmox and Kubernetes APIs.

Starts, in order: fakepve (HTTPS on 127.0.0.2:8006, verified with its own CA), the fake Kubernetes API server
(for clusters), migrations and demo data, the template sync, a Celery worker with beat, the cluster reconciler that
plays CAPI/capmox, and the Django development server. Ctrl-C stops everything.

Development only: it imports test tools (fakepve) and runs with DJANGO_DEBUG=1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
PY = sys.executable


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(host: str, port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(host, port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on {host}:{port}; see {VAR}/logs/")


def main() -> int:
    from devstack.fakepve_demo import DEMO_SECRET_ENV, DEMO_TOKEN_SECRET

    (VAR / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "1")
    env[DEMO_SECRET_ENV] = DEMO_TOKEN_SECRET
    env.setdefault("CAPI_KUBECONFIG", str(VAR / "kubeconfig"))
    env.setdefault("MIGRATION_SOURCE_KUBECONFIG", env["CAPI_KUBECONFIG"])  # the wizard reads legacy VMs there
    if "CELERY_BROKER_URL" not in env and reachable("127.0.0.1", 6379):
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/3"
    broker = env.get("CELERY_BROKER_URL", "filesystem:// (var/celery)")
    web_port = int(env.get("PORTAL_DEMO_PORT", "8000"))
    pve_host = env.get("PORTAL_DEMO_PVE_HOST", "127.0.0.2")
    ca_file = VAR / "fakepve-ca.crt"

    procs: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, args: list[str]) -> subprocess.Popen:
        log = open(VAR / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((name, proc))
        return proc

    def stop_all(*_):
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop_all(), sys.exit(0)))
    try:
        if reachable(pve_host, 8006):
            print(f"fakepve already answers on {pve_host}:8006; using it.")
        else:
            # Each Proxmox task takes a second so a person can watch clone, configure and start go by.
            task_seconds = env.get("PORTAL_DEMO_TASK_SECONDS", "1")
            start(
                "fakepve",
                [
                    *[PY, "-m", "devstack.fakepve_demo", "--host", pve_host, "--cafile", str(ca_file)],
                    *["--task-seconds", task_seconds],
                ],
            )
            wait_for(pve_host, 8006, "fakepve")
        kube_port = int(env.get("PORTAL_DEMO_KUBE_PORT", "6443"))
        if not reachable("127.0.0.1", kube_port):
            from devstack import management_seed

            # The management cluster starts with the capmox controller, Flux HelmReleases and legacy KubeVirt VMs.
            seed = VAR / "management.yaml"
            management_seed.write(seed)
            start(
                "kubeapi",
                [
                    *[PY, "-m", "devstack.kubeapi", "--port", str(kube_port)],
                    *["--kubeconfig-out", env["CAPI_KUBECONFIG"], "--manifests", str(seed)],
                ],
            )
            wait_for("127.0.0.1", kube_port, "fake Kubernetes API")
        manage = [PY, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*manage, "seed_demo", "--pve-url", f"https://{pve_host}:8006", "--pve-ca", str(ca_file)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        sync = subprocess.run([*manage, "sync_templates"], cwd=ROOT, env=env, capture_output=True, text=True)
        if sync.returncode != 0:
            print(
                "Template sync failed (the seeded catalog stays):",
                (sync.stderr or sync.stdout).strip()[-300:],
            )
        start(
            "worker",
            [PY, "-m", "celery", "-A", "portal", "worker", "-B", "-s", str(VAR / "celerybeat-schedule"), "-c", "4"],
        )
        if (ROOT / "provisioning" / "capi" / "reconciler.py").exists():
            start("reconciler", [PY, "-m", "provisioning.capi.reconciler", "--loop"])
        start("web", [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"])
        wait_for("127.0.0.1", web_port, "the portal")
        print(
            f"\nPortal:  http://127.0.0.1:{web_port}/   (API docs: /api/docs/)\n"
            f"Proxmox: https://{pve_host}:8006 (fakepve, CA {ca_file})\n"
            f"Broker:  {broker}\nLogs:    {VAR / 'logs'}/\nStop with Ctrl-C.\n"
        )
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {VAR / 'logs' / (name + '.log')}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
