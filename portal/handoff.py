"""The hand-off to provisioning, by task name so the portal core does not import the workers' code."""

from __future__ import annotations

from .celery import app

TASKS = {
    "vm": "provisioning.tasks.provision_vm",
    "cluster": "provisioning.tasks.provision_cluster",
}


def start_provisioning(kind: str, pk: int) -> None:
    app.send_task(TASKS[kind], args=[pk])


def send(task_name: str, *args) -> None:
    app.send_task(task_name, args=list(args))
