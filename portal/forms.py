"""Order forms. The REST API validates through these same forms, so the rules live in one place."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q

from .models import (
    ClusterRequest,
    InstanceType,
    KubernetesVersion,
    NodeGroup,
    OSTemplate,
    Tenant,
    TenantNetwork,
    VMRequest,
    dns_label_validator,
)
from .states import NAME_HOLDING_STATES
from .validators import validate_ssh_keys, validate_user_data

MAX_VCPUS = 64
MAX_MEMORY_GIB = 512
MAX_DISK_GIB = 16384


class TenantScopedMixin:
    """Limits every choice to what the order's tenant may use."""

    tenant: Tenant

    def _name_taken(self, model, name: str) -> bool:
        live = model.objects.filter(tenant=self.tenant, name=name, state__in=sorted(NAME_HOLDING_STATES))
        return live.exists()


class VMRequestForm(TenantScopedMixin, forms.ModelForm):
    instance_type = forms.ModelChoiceField(
        queryset=InstanceType.objects.filter(active=True),
        required=False,
        empty_label="Custom size",
        to_field_name="name",
        help_text="A KubeVirt-compatible size, or “Custom size” to set vCPUs and memory yourself.",
        error_messages={"invalid_choice": "Unknown instance type: choose one from the catalog."},
    )
    vcpus = forms.IntegerField(
        min_value=1, max_value=MAX_VCPUS, required=False, label="vCPUs", help_text="Only for a custom size."
    )
    memory_gib = forms.DecimalField(
        min_value=0.5,
        max_value=MAX_MEMORY_GIB,
        decimal_places=1,
        required=False,
        label="Memory (GiB)",
        help_text="Only for a custom size.",
    )
    sockets = forms.IntegerField(min_value=1, max_value=4, initial=1, required=False)
    # Kept byte for byte (no stripping): it is handed to cloud-init as written.
    user_data = forms.CharField(
        required=False,
        strip=False,
        label="Cloud-init user data",
        help_text="Optional “#cloud-config” YAML or a “#!” script.",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
    )
    disk_gib = forms.IntegerField(min_value=1, max_value=MAX_DISK_GIB, label="Boot disk (GiB)", initial=20)

    class Meta:
        model = VMRequest
        fields = [
            "name",
            "template",
            "instance_type",
            "vcpus",
            "memory_gib",
            "sockets",
            "disk_gib",
            "network",
            "ip_address",
            "ssh_keys",
            "ci_user",
            "user_data",
            "run_strategy",
        ]
        labels = {
            "ip_address": "Static IPv4 address",
            "ci_user": "Login user",
            "user_data": "Cloud-init user data",
        }
        help_texts = {
            "name": "Lowercase letters, digits and dashes (DNS label).",
            "ip_address": "Leave empty for DHCP.",
            "ssh_keys": "One OpenSSH public key per line (ssh-ed25519, ssh-rsa, ecdsa-sha2-*).",
            "ci_user": "Empty = the template's default user.",
            "user_data": "Optional “#cloud-config” YAML or a “#!” script.",
        }
        widgets = {
            "ssh_keys": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "user_data": forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        }

    def __init__(self, *args, tenant: Tenant, **kwargs):
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        templates = OSTemplate.objects.filter(active=True, vanished_at__isnull=True)
        endpoint = tenant.effective_endpoint()
        if endpoint is not None:
            templates = templates.filter(Q(endpoint__isnull=True) | Q(endpoint=endpoint))
        self.fields["template"].queryset = templates
        self.fields["template"].error_messages["invalid_choice"] = "Unknown template: choose one from the catalog."
        self.fields["network"].queryset = TenantNetwork.objects.filter(tenant=tenant)
        self.fields["network"].error_messages["invalid_choice"] = (
            "That network or VLAN does not belong to this tenant: choose one of the tenant's networks."
        )
        self.fields["network"].empty_label = None
        self.fields["template"].empty_label = None

    def clean_name(self):
        name = self.cleaned_data["name"]
        if self._name_taken(VMRequest, name):
            raise ValidationError(f"The tenant already has a VM named “{name}”.")
        return name

    def clean_ssh_keys(self):
        return "\n".join(validate_ssh_keys(self.cleaned_data.get("ssh_keys", "")))

    def clean_user_data(self):
        return validate_user_data(self.cleaned_data.get("user_data", ""), settings.PORTAL_MAX_USER_DATA_BYTES)

    def clean(self):
        data = super().clean()
        itype: InstanceType | None = data.get("instance_type")
        sockets = data.get("sockets") or 1
        if itype is not None:
            vcpus, memory_mib = itype.vcpus, itype.memory_mib
        else:
            vcpus = data.get("vcpus")
            memory = data.get("memory_gib")
            if vcpus is None and "vcpus" not in self.errors:
                self.add_error("vcpus", "Choose an instance type or give the number of vCPUs.")
            if memory is None and "memory_gib" not in self.errors:
                self.add_error("memory_gib", "Choose an instance type or give the memory.")
            if vcpus is None or memory is None:
                return data
            memory_mib = int(memory * 1024)
        if vcpus % sockets:
            self.add_error("sockets", f"{vcpus} vCPUs cannot be split evenly over {sockets} sockets.")
            return data
        self.instance.sockets = sockets
        self.instance.cores = vcpus // sockets
        self.instance.memory_mib = memory_mib
        self.instance.tenant = self.tenant

        template: OSTemplate | None = data.get("template")
        disk = data.get("disk_gib")
        if template is not None and disk is not None and disk < template.min_disk_gib:
            self.add_error("disk_gib", f"{template.name} needs a boot disk of at least {template.min_disk_gib} GiB.")
        if template is not None and not template.cloud_init and (data.get("user_data") or data.get("ssh_keys")):
            self.add_error("template", f"{template.name} has no cloud-init: SSH keys and user data cannot be applied.")

        network: TenantNetwork | None = data.get("network")
        address = data.get("ip_address")
        if address and network is not None:
            if not network.cidr:
                self.add_error("ip_address", f"{network.name} has no address range: use DHCP (leave empty).")
            elif not network.contains(address):
                self.add_error("ip_address", f"{address} is outside the range the tenant may use on {network.name}.")
            elif address == network.gateway:
                self.add_error("ip_address", f"{address} is the gateway of {network.name}.")
            elif VMRequest.objects.filter(
                network=network, ip_address=address, state__in=sorted(NAME_HOLDING_STATES)
            ).exists():
                self.add_error("ip_address", f"{address} is already used by another VM.")
        return data


class ClusterRequestForm(TenantScopedMixin, forms.ModelForm):
    cert_manager = forms.BooleanField(required=False, label="cert-manager")
    ingress_nginx = forms.BooleanField(required=False, label="ingress-nginx")
    monitoring_agents = forms.BooleanField(required=False, label="Monitoring agents")

    class Meta:
        model = ClusterRequest
        fields = ["name", "kubernetes_version", "control_plane_replicas", "network", "ssh_keys"]
        labels = {"control_plane_replicas": "Control-plane replicas (Kamaji pods)"}
        help_texts = {"ssh_keys": "Installed on every worker node; one OpenSSH public key per line."}
        widgets = {"ssh_keys": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})}

    def __init__(self, *args, tenant: Tenant, **kwargs):
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        self.fields["kubernetes_version"].queryset = KubernetesVersion.objects.filter(active=True)
        self.fields["kubernetes_version"].empty_label = None
        self.fields["kubernetes_version"].error_messages["invalid_choice"] = "That Kubernetes version is not offered."
        default = KubernetesVersion.objects.filter(active=True, is_default=True).first()
        if default and not self.is_bound:
            self.initial.setdefault("kubernetes_version", default.pk)
        self.fields["network"].queryset = TenantNetwork.objects.filter(tenant=tenant).exclude(cidr="")
        self.fields["network"].empty_label = None
        self.fields["network"].help_text = "Worker nodes get addresses from this network's range."
        self.fields["network"].error_messages["invalid_choice"] = (
            "That network does not belong to this tenant or has no address range."
        )

    def clean_name(self):
        name = self.cleaned_data["name"]
        if self._name_taken(ClusterRequest, name):
            raise ValidationError(f"The tenant already has a cluster named “{name}”.")
        return name

    def clean_ssh_keys(self):
        return "\n".join(validate_ssh_keys(self.cleaned_data.get("ssh_keys", "")))

    def save(self, commit=True):
        self.instance.tenant = self.tenant
        self.instance.addons = {key: bool(self.cleaned_data.get(key)) for key, _ in ClusterRequest.ADDONS}
        return super().save(commit=commit)


class NodeGroupForm(forms.ModelForm):
    instance_type = forms.ModelChoiceField(
        queryset=InstanceType.objects.filter(active=True),
        to_field_name="name",
        required=False,
        empty_label="Custom size",
        error_messages={"invalid_choice": "Unknown instance type: choose one from the catalog."},
    )
    vcpus = forms.IntegerField(min_value=1, max_value=MAX_VCPUS, required=False, label="vCPUs")
    memory_gib = forms.IntegerField(min_value=1, max_value=MAX_MEMORY_GIB, required=False, label="Memory (GiB)")
    roles = forms.CharField(required=False, help_text="Comma-separated, e.g. ingress-nginx.")

    class Meta:
        model = NodeGroup
        fields = [
            "name",
            "min_replicas",
            "max_replicas",
            "instance_type",
            "vcpus",
            "memory_gib",
            "disk_gib",
            "roles",
        ]
        labels = {"disk_gib": "Disk (GiB)", "min_replicas": "Min", "max_replicas": "Max"}

    def clean_roles(self):
        roles = [r.strip() for r in self.cleaned_data.get("roles", "").split(",") if r.strip()]
        for role in roles:
            dns_label_validator(role)
        return roles

    def clean(self):
        data = super().clean()
        low, high = data.get("min_replicas"), data.get("max_replicas")
        if low is not None and high is not None and low > high:
            self.add_error("max_replicas", "Max must be at least min.")
        itype = data.get("instance_type")
        if itype is not None:
            self.instance.cores, self.instance.memory_mib = itype.vcpus, itype.memory_mib
        elif data.get("vcpus") and data.get("memory_gib"):
            self.instance.cores, self.instance.memory_mib = data["vcpus"], data["memory_gib"] * 1024
        elif self.has_changed():
            self.add_error("instance_type", "Choose an instance type or give vCPUs and memory.")
        self.instance.sockets = 1
        if low is not None:
            self.instance.replicas = low  # the autoscaler grows it up to max
        return data


class BaseNodeGroupFormSet(forms.BaseModelFormSet):
    def clean(self):
        super().clean()
        names = [f.cleaned_data.get("name") for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        if not any(names):
            raise ValidationError("A cluster needs at least one node group.")
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValidationError(f"Node group names must be unique: {', '.join(sorted(duplicates))}.")


NodeGroupFormSet = forms.modelformset_factory(
    NodeGroup,
    form=NodeGroupForm,
    formset=BaseNodeGroupFormSet,
    extra=0,
    min_num=1,
    max_num=10,
    can_delete=False,
)


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Shown to the requester.",
        error_messages={"required": "Give a reason: the requester will see it."},
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Give a reason: the requester will see it.")
        return reason
