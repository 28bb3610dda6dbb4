from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("catalog/instance-types", views.InstanceTypeViewSet, basename="instancetype")
router.register("catalog/templates", views.OSTemplateViewSet, basename="ostemplate")
router.register("catalog/kubernetes-versions", views.KubernetesVersionViewSet, basename="kubernetesversion")
router.register("vms", views.VMRequestViewSet, basename="vmrequest")
router.register("clusters", views.ClusterRequestViewSet, basename="clusterrequest")
router.register("audit", views.AuditEventViewSet, basename="auditevent")

app_name = "api"
urlpatterns = router.urls
