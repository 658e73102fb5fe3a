"""网页路由 Web pages."""

from django.urls import path

from jkfp.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
]
