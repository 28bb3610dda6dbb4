"""The zero-setup default broker (filesystem, in var/celery) really carries tasks to a separate worker process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_process_consumes_the_filesystem_queue(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")}
    db = tmp_path / "portal.sqlite3"
    env.update(DJANGO_DEBUG="1", PORTAL_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=f"sqlite:///{db}")
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "timeout": 120}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)
    send = "from portal.celery import app; app.send_task('architecture.tasks.heartbeat')"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", send], **run)
    queued = list((tmp_path / "var" / "celery" / "queue").iterdir())
    assert len(queued) == 1  # the message waits on disk until a worker takes it
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-c", "1", "--without-mingle", "--without-gossip"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, beats = time.monotonic() + 60, 0
        while time.monotonic() < deadline and not beats:
            time.sleep(0.5)
            with sqlite3.connect(db) as conn:
                beats = conn.execute("SELECT COUNT(*) FROM architecture_heartbeat").fetchone()[0]
    finally:
        worker.terminate()
        worker.wait(20)
    assert beats == 1
    assert not list((tmp_path / "var" / "celery" / "queue").iterdir())
