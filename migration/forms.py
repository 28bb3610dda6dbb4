"""Forms of the migration wizard. Maps and selections are validated in migration.wizard.engine."""

from __future__ import annotations

from django import forms

from portal.models import Role, Tenant
from portal.tenancy import has_role

from .sources import MAX_TOTAL_BYTES


def usable_tenants(user):
    tenants = Tenant.objects.for_user(user, Role.USE).order_by("slug")
    return [t for t in tenants if user.is_staff or has_role(user, t, Role.USE)]


class PlanForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For you and the approvers, e.g. “shop VMs from kv-prod”.")
    tenant = forms.ChoiceField(help_text="The tenant the VMs are ordered for; its networks and quota apply.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = {t.slug: t for t in usable_tenants(user)}
        self.fields["tenant"].choices = [(slug, f"{t.slug} — {t.name}") for slug, t in self.tenants.items()]

    def clean_tenant(self):
        slug = self.cleaned_data["tenant"]
        if slug not in self.tenants:
            raise forms.ValidationError("You cannot order VMs for that tenant.")
        return self.tenants[slug]


class PasteForm(forms.Form):
    manifests = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "mono"}),
        max_length=MAX_TOTAL_BYTES,
        strip=False,
        label="Manifests (YAML or JSON)",
        help_text="One or more documents, e.g. the output of “kubectl get vm -A -o yaml”.",
        error_messages={"required": "Paste at least one VirtualMachine manifest."},
    )


class NamespacesForm(forms.Form):
    namespaces = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one namespace."},
    )

    def __init__(self, *args, namespaces: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["namespaces"].choices = [(ns, ns) for ns in namespaces]
