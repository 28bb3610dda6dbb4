from django.urls import path

from . import views

app_name = "architecture"

urlpatterns = [
    path("", views.index, name="index"),
    path("stack/", views.stack_page, name="stack"),
    path("graph/", views.graph, name="graph"),
    path("graph.svg", views.graph_svg, name="graph-svg"),
    path("flows/", views.flows, name="flows"),
    path("journey/", views.journey, name="journey"),
    path("status/", views.status_page, name="status"),
    *(
        path(f"status/{group}/", views.status_group, {"group": group}, name=f"status-{group}")
        for group in ("proxmox", "cluster", "portal")
    ),
    path("status.json", views.status_json, name="status-json"),
    # Staff only (403 for everyone else): the "architecture/admin/" prefix marks them for tests/portal/test_isolation.
    path("admin/lint/", views.lint_page, name="lint"),
    path("admin/selftest/", views.selftest_page, name="selftest"),
    path("admin/selftest/start/", views.selftest_start, name="selftest-start"),
    path("admin/selftest/steps/", views.selftest_steps, name="selftest-steps"),
]
