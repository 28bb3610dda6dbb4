from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api, views

app_name = "migration"

router = SimpleRouter()
router.register("plans", api.MigrationPlanViewSet, basename="plan")

urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("new/", views.plan_create, name="create"),
    path("<int:pk>/", views.step_source, name="plan"),
    path("<int:pk>/source/", views.step_source, name="source"),
    path("<int:pk>/select/", views.step_vms, name="vms"),
    path("<int:pk>/network/", views.step_network, name="network"),
    path("<int:pk>/storage/", views.step_storage, name="storage"),
    path("<int:pk>/target/", views.step_target, name="target"),
    path("<int:pk>/review/", views.step_review, name="review"),
    path("<int:pk>/submit/", views.plan_submit, name="submit"),
    path("<int:pk>/download/", views.plan_download, name="download"),
    path("<int:pk>/progress/", views.plan_progress, name="progress"),
    path("<int:pk>/duplicate/", views.plan_duplicate, name="duplicate"),
    path("<int:pk>/delete/", views.plan_delete, name="delete"),
    path("api/", include((router.urls, "api"))),
]
