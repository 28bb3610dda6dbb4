from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from architecture.views import status_json

from . import views

portal_patterns = [
    path("", views.dashboard, name="dashboard"),
    path("tenant/switch/", views.switch_tenant, name="switch-tenant"),
    path("vms/", views.VMListView.as_view(), name="vm-list"),
    path("vms/new/", views.vm_create, name="vm-create"),
    path("vms/<int:pk>/", views.request_detail, {"kind": "vm"}, name="vm-detail"),
    path("vms/<int:pk>/status/", views.request_status, {"kind": "vm"}, name="vm-status"),
    path("vms/<int:pk>/history/", views.request_history, {"kind": "vm"}, name="vm-history"),
    path("vms/<int:pk>/cancel/", views.request_cancel, {"kind": "vm"}, name="vm-cancel"),
    path("vms/<int:pk>/action/<slug:action>/", views.vm_action, name="vm-action"),
    path("clusters/", views.ClusterListView.as_view(), name="cluster-list"),
    path("clusters/new/", views.cluster_create, name="cluster-create"),
    path("clusters/<int:pk>/", views.request_detail, {"kind": "cluster"}, name="cluster-detail"),
    path("clusters/<int:pk>/status/", views.request_status, {"kind": "cluster"}, name="cluster-status"),
    path("clusters/<int:pk>/history/", views.request_history, {"kind": "cluster"}, name="cluster-history"),
    path("clusters/<int:pk>/cancel/", views.request_cancel, {"kind": "cluster"}, name="cluster-cancel"),
    path("clusters/<int:pk>/delete/", views.cluster_delete, name="cluster-delete"),
    path("clusters/<int:pk>/kubeconfig/", views.cluster_kubeconfig, name="cluster-kubeconfig"),
    path("clusters/<int:pk>/manifests/", views.cluster_manifests, name="cluster-manifests"),
    path("clusters/<int:pk>/scale/", views.cluster_scale, name="cluster-scale"),
    path("clusters/<int:pk>/upgrade/", views.cluster_upgrade, name="cluster-upgrade"),
    path("quota/preview/<slug:kind>/", views.quota_preview, name="quota-preview"),
    path("approvals/", views.approval_queue, name="approvals"),
    path("approvals/bulk/", views.bulk_decide, name="approvals-bulk"),
    path("approvals/changes/<int:pk>/<slug:action>/", views.change_decide, name="change-decide"),
    path("approvals/<slug:kind>/<int:pk>/", views.approval_detail, name="approval-detail"),
    path("approvals/<slug:kind>/<int:pk>/approve/", views.approve_view, name="approve"),
    path("approvals/<slug:kind>/<int:pk>/reject/", views.reject_view, name="reject"),
    path("audit/", views.audit_log, name="audit"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("healthz", views.healthz, name="healthz"),
    path("status.json", status_json, name="status-json"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("provisioning/", include("provisioning.urls")),
    path("migration/", include("migration.urls")),
    path("architecture/", include("architecture.urls")),
]
