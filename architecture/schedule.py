"""Periodic tasks of this app; portal/celery.py merges BEAT_SCHEDULE into the beat schedule."""

from datetime import timedelta

BEAT_SCHEDULE = {
    "architecture-heartbeat": {
        "task": "architecture.tasks.heartbeat",
        "schedule": timedelta(seconds=30),  # keep in step with STATUS_HEARTBEAT_SECONDS
        "options": {"expires": 25},
    },
}
