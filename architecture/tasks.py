"""Celery tasks: the worker heartbeat read by the status page, and the platform self-test."""

from __future__ import annotations

import socket

from celery import shared_task


@shared_task(name="architecture.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Proof that a worker consumes the queue and beat schedules: a timestamp in the database."""
    from .checks import record_heartbeat

    record_heartbeat(socket.gethostname())


@shared_task(name="architecture.tasks.run_selftest", acks_late=False, ignore_result=True)
def run_selftest(run_id: int) -> str:
    """Run a queued self-test. Not acks_late: a half-done self-test must not start over after a worker restart
    (it would create a second test VM); the run is marked failed by `selftest.fail_stale_runs` instead."""
    from . import selftest

    return selftest.execute(run_id)
