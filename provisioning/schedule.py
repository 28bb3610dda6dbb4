"""Periodic tasks of this app; portal/celery.py merges BEAT_SCHEDULE into the beat schedule."""

from datetime import timedelta

BEAT_SCHEDULE = {
    "provisioning-sync-status": {
        "task": "provisioning.tasks.sync_status",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    "provisioning-sync-templates": {
        "task": "provisioning.tasks.sync_templates",
        "schedule": timedelta(minutes=10),
        "options": {"expires": 300},
    },
    "provisioning-sync-clusters": {
        "task": "provisioning.tasks.sync_clusters",
        "schedule": timedelta(seconds=15),
        "options": {"expires": 14},
    },
    "provisioning-resume-stalled": {
        "task": "provisioning.tasks.resume_stalled",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 240},
    },
}
