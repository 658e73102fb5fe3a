"""大病救治页面路由 Treatment pages (mounted at /treatment/ by jkfp/urls.py)."""

from django.urls import path

from jkfp.web.treatment import views

app_name = "treatment"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/status/", views.case_status, name="case_status"),
    path("cases/<int:pk>/followups/", views.case_followup, name="case_followup"),
    path("ledger.xlsx", views.ledger_export, name="ledger_export"),
    path("referrals/", views.referral_list, name="referral_list"),
    path("referrals/new/", views.referral_create, name="referral_create"),
    path("referrals/<int:pk>/decide/", views.referral_decide, name="referral_decide"),
]
