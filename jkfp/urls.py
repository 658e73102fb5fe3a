"""URL configuration."""

from django.contrib import admin
from django.urls import include, path

from jkfp.api.main import api
from jkfp.web.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("treatment/", include("jkfp.web.treatment.urls")),
    path("indicators/", include("jkfp.web.indicators.urls")),
    path("monitoring/", include("jkfp.web.monitoring.urls")),
    path("care/", include("jkfp.web.care.urls")),
    path("capacity/", include("jkfp.web.capacity.urls")),
    path("api/v1/", api.urls),
    path("settlement/", include("jkfp.web.settlement.urls")),
    path("", include("jkfp.web.offline.urls")),
    path("", include("jkfp.web.urls")),
]
