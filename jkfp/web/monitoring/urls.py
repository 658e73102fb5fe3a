"""防返贫监测页面路由 Monitoring pages (mounted at /monitoring/ by jkfp/urls.py)."""

from django.urls import path

from jkfp.web.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/step/", views.case_step, name="case_step"),
    path("cases/<int:pk>/measures/", views.measure_add, name="measure_add"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("overview/", views.overview, name="overview"),
    path("ledger.xlsx", views.ledger_export, name="ledger_export"),
]
