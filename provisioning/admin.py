from django.contrib import admin

from .models import ProvisionStep, ProxmoxVM, UnmanagedVM, VMAction, VmidReservation


@admin.register(ProxmoxVM)
class ProxmoxVMAdmin(admin.ModelAdmin):
    list_display = (
        "request",
        "endpoint",
        "vmid",
        "node",
        "power_state",
        "drifted",
        "cleanup_pending",
        "last_synced_at",
    )
    list_filter = ("endpoint", "power_state", "drifted", "cleanup_pending")
    search_fields = ("request__name", "vmid")
    raw_id_fields = ("request",)


@admin.register(ProvisionStep)
class ProvisionStepAdmin(admin.ModelAdmin):
    list_display = ("request", "order", "name", "state", "attempts", "started_at", "finished_at")
    list_filter = ("state", "name")
    raw_id_fields = ("request",)


@admin.register(VMAction)
class VMActionAdmin(admin.ModelAdmin):
    list_display = ("request", "action", "state", "actor_name", "created_at", "finished_at")
    list_filter = ("action", "state")
    raw_id_fields = ("request",)


@admin.register(VmidReservation)
class VmidReservationAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "vmid", "request", "external", "created_at")
    list_filter = ("endpoint", "external")
    raw_id_fields = ("request",)


@admin.register(UnmanagedVM)
class UnmanagedVMAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "vmid", "name", "node", "power_state", "first_seen_at", "last_seen_at")
    list_filter = ("endpoint", "power_state")
