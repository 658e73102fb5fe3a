"""一站式结算页面路由 Settlement pages (mounted at /settlement/ by jkfp/urls.py)."""

from django.urls import path

from jkfp.web.settlement import views

app_name = "settlement"
urlpatterns = [
    path("", views.settlement_list, name="list"),
    path("window/", views.window, name="window"),
    path("window/outpatient/", views.outpatient, name="outpatient"),
    path("admissions/<int:pk>/discharge/", views.discharge, name="discharge"),
    path("claims/<str:claim_id>/", views.slip, name="slip"),
    path("claims/<str:claim_id>/slip.pdf", views.slip_download, name="slip_pdf"),
    path("claims/<str:claim_id>/reverse/", views.reverse_claim, name="reverse"),
    path("resettle/", views.resettle_report, name="resettle"),
    path("clearing/", views.clearing_page, name="clearing"),
    path("clearing.xlsx", views.clearing_export, name="clearing_export"),
]
