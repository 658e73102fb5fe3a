"""URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("treatment/", include("jkfp.web.treatment.urls")),
    path("", include("jkfp.web.urls")),
]
