"""基层能力页面路由 Capacity pages, mounted at ``/capacity/``."""

from django.urls import path

from jkfp.web.capacity import views

app_name = "capacity"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("villages/<str:code>/", views.village, name="village"),
    path("institutions/", views.institution_list, name="institutions"),
    path("institutions/<str:code>/", views.institution_detail, name="institution"),
    path("staff/", views.staff_list, name="staff"),
    path("support/", views.support_list, name="support"),
    path("telemedicine/", views.telemedicine_list, name="telemedicine"),
    path("training/", views.training_list, name="training"),
    path("rectify/", views.rectify, name="rectify"),
]
