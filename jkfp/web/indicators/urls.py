"""指标页面路由 Indicator pages, mounted at ``/indicators/``."""

from django.urls import path

from jkfp.web.indicators import views

app_name = "indicators"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("refresh/", views.refresh, name="refresh"),
    path("drill/<slug:code>/<slug:side>/", views.drill, name="drill"),
    path("drill/<slug:code>/<slug:side>/export.xlsx", views.drill_export, name="drill_export"),
    path("ledgers/", views.ledger_list, name="ledgers"),
    path("ledgers/<slug:kind>.xlsx", views.ledger_export, name="ledger_export"),
    path("report.docx", views.report_download, name="report"),
    path("rectifications/", views.rectification_list, name="rectification_list"),
    path("rectifications/<int:pk>/", views.rectification_update, name="rectification_update"),
]
