"""村医离线应用路由 The app under /m/ (the service worker's scope) and the device pages under /offline/."""

from django.urls import path

from jkfp.web.offline import views

app_name = "offline"
urlpatterns = [
    path("m/", views.app, name="app"),
    path("m/sw.js", views.worker, name="worker"),
    path("m/manifest.webmanifest", views.manifest, name="manifest"),
    path("offline/devices/", views.devices, name="devices"),
    path("offline/devices/<int:pk>/revoke/", views.device_revoke, name="device_revoke"),
]
