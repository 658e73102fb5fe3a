"""签约服务页面路由 Care pages (mounted at /care/ by jkfp/urls.py)."""

from django.urls import path

from jkfp.web.care import views

app_name = "care"
urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("overdue/", views.escalated, name="escalated"),
    path("persons/<int:pk>/", views.person_care, name="person"),
    path("persons/<int:pk>/visit/", views.visit_record, name="visit"),
    path("persons/<int:pk>/preview/", views.visit_preview, name="preview"),
    path("contracts/", views.contract_list, name="contracts"),
    path("contracts/renew/", views.contracts_renew, name="renew"),
    path("registers/contracts.xlsx", views.contract_register, name="contract_register"),
    path("registers/fulfilment.xlsx", views.fulfilment_register, name="fulfilment_register"),
    path("cards.pdf", views.contact_cards, name="cards"),
    path("teams/", views.team_list, name="teams"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<int:pk>/", views.team_edit, name="team"),
    path("teams/<int:pk>/members/", views.team_member_add, name="team_member_add"),
    path(
        "teams/<int:pk>/members/<int:member_pk>/remove/", views.team_member_remove, name="team_member_remove"
    ),
    path("persons/<int:pk>/checkups/", views.person_checkups, name="checkups"),
    path("persons/<int:pk>/deliveries/", views.person_deliveries, name="deliveries"),
    path("persons/<int:pk>/cards/", views.person_cards, name="cards_person"),
    path("persons/<int:pk>/record/", views.person_health_record, name="record"),
    path("persons/<int:pk>/<slug:kind>/<int:entry_pk>/void/", views.entry_void, name="void"),
    path("households/<int:pk>/doctor/", views.household_doctor, name="household_doctor"),
]
