"""What the provisioner knows about Proxmox: reserved VMIDs, the VM behind each request, pipeline steps, actions."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.models import ProxmoxEndpoint, VMRequest


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class VmidReservation(models.Model):
    """A VMID taken by the portal. The unique constraint is what keeps two workers from picking the same id."""

    endpoint = models.ForeignKey(ProxmoxEndpoint, on_delete=models.CASCADE, related_name="vmid_reservations")
    vmid = models.PositiveIntegerField()
    request = models.ForeignKey(
        VMRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="vmid_reservations"
    )
    # Found in use by something outside the portal: skipped until the status sync sees it gone.
    external = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["endpoint", "vmid"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "vmid"], name="uniq_vmid_per_endpoint")]

    def __str__(self) -> str:
        return f"{self.endpoint.name}/{self.vmid}"


class ProxmoxVM(models.Model):
    """The Proxmox side of a VM request: where it lives and its last observed state."""

    request = models.OneToOneField(VMRequest, on_delete=models.CASCADE, related_name="proxmox")
    endpoint = models.ForeignKey(ProxmoxEndpoint, on_delete=models.PROTECT, related_name="vms")
    vmid = models.PositiveIntegerField(null=True, blank=True)
    node = models.CharField(max_length=64, blank=True)
    power_state = models.CharField(max_length=16, blank=True, help_text="running, stopped, paused or unknown")
    lock = models.CharField(max_length=32, blank=True)
    cpu_fraction = models.FloatField(null=True, blank=True, help_text="0..1 of the VM's vCPUs")
    mem_bytes = models.BigIntegerField(null=True, blank=True)
    maxmem_bytes = models.BigIntegerField(null=True, blank=True)
    uptime_seconds = models.PositiveIntegerField(null=True, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True)
    drifted = models.BooleanField(default=False, help_text="Expected in Proxmox but missing there.")
    drifted_since = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    disk_key = models.CharField(max_length=16, blank=True)
    disk_requested_gib = models.PositiveIntegerField(null=True, blank=True)
    iso_storage = models.CharField(max_length=64, blank=True)
    iso_volume = models.CharField(max_length=255, blank=True)
    # A failed request whose VM could not be removed automatically: the admin sees a cleanup button.
    cleanup_pending = models.BooleanField(default=False)
    cleanup_message = models.TextField(blank=True)

    class Meta:
        ordering = ["endpoint", "vmid"]
        indexes = [models.Index(fields=["endpoint", "vmid"], name="proxmoxvm_endpoint_vmid")]

    def __str__(self) -> str:
        return f"{self.endpoint.name}/{self.vmid or '-'} ({self.request})"

    @property
    def marker(self) -> str:
        return marker_for(self.request_id)

    @property
    def exists_in_proxmox(self) -> bool:
        return self.vmid is not None and not self.drifted


def marker_for(request_id: int) -> str:
    """Written into the VM description at clone time, on a line of its own; proves the VM is this request's."""
    return f"portal-request:{request_id}"


def has_marker(description, request_id: int) -> bool:
    """Whole-line match, so request 2 never claims the VM of request 20."""
    return marker_for(request_id) in [line.strip() for line in str(description or "").splitlines()]


class ProvisionStep(models.Model):
    request = models.ForeignKey(VMRequest, on_delete=models.CASCADE, related_name="provision_steps")
    name = models.CharField(max_length=32)
    order = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=8, choices=StepState.choices, default=StepState.PENDING)
    upid = models.CharField(max_length=255, blank=True)
    node = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.TextField(blank=True, help_text="What the step did or found, in plain words.")
    message_user = models.TextField(blank=True)
    message_admin = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "order"]
        constraints = [models.UniqueConstraint(fields=["request", "name"], name="uniq_step_per_request")]

    def __str__(self) -> str:
        return f"{self.request_id}:{self.name}={self.state}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def mark_running(self, node: str = "") -> None:
        self.state = StepState.RUNNING
        self.attempts += 1
        self.started_at = self.started_at or timezone.now()
        self.finished_at = None
        if node:
            self.node = node
        self.save(update_fields=["state", "attempts", "started_at", "finished_at", "node"])


class VMAction(models.Model):
    """A tenant or admin action on a VM (power, delete, cleanup) and the Proxmox task that carries it out."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(VMRequest, on_delete=models.CASCADE, related_name="vm_actions")
    action = models.CharField(max_length=16)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    actor_name = models.CharField(max_length=150, blank=True)
    upid = models.CharField(max_length=255, blank=True)
    node = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message_user = models.TextField(blank=True)
    message_admin = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.request_id}:{self.action}={self.state}"


class UnmanagedVM(models.Model):
    """A VM found in Proxmox that no request owns: listed for admins, never touched."""

    endpoint = models.ForeignKey(ProxmoxEndpoint, on_delete=models.CASCADE, related_name="unmanaged_vms")
    vmid = models.PositiveIntegerField()
    name = models.CharField(max_length=128, blank=True)
    node = models.CharField(max_length=64, blank=True)
    power_state = models.CharField(max_length=16, blank=True)
    tags = models.CharField(max_length=255, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint", "vmid"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "vmid"], name="uniq_unmanaged_vm")]

    def __str__(self) -> str:
        return f"{self.endpoint.name}/{self.vmid} {self.name}"
