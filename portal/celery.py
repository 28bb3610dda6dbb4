"""Celery application. Workers start with `celery -A portal worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    """Merge each app's `schedule.BEAT_SCHEDULE` so apps own their periodic tasks."""
    from importlib import import_module

    for module in ("provisioning.schedule", "portal.schedule", "architecture.schedule"):
        try:
            schedule = import_module(module).BEAT_SCHEDULE
        except ModuleNotFoundError:
            continue
        sender.conf.beat_schedule.update(schedule)
