"""Models of the architecture app: worker heartbeats (for the status page) and platform self-test runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """The last time a periodic task ran in a worker. Works with every broker (the filesystem transport has no
    broadcast, so `control.ping` cannot be used there)."""

    name = models.CharField(max_length=64, unique=True)
    last_seen = models.DateTimeField(default=timezone.now)
    hostname = models.CharField(max_length=255, blank=True, help_text="Worker that sent it (shown to admins only).")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class SelfTestRun(models.Model):
    """One run of the platform self-test: steps as a JSON list of {name, label, status, message, started, finished}."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    steps = models.JSONField(default=list, blank=True)
    vm_request = models.ForeignKey(
        "portal.VMRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"self-test {self.pk} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.PASSED, self.Status.FAILED)

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None

    @property
    def failed_step(self) -> dict | None:
        return next((s for s in self.steps if s.get("status") == "failed"), None)
