"""网页路由 Web pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from jkfp.web import accounts, import_mapping, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("persons/", views.person_search, name="person_search"),
    path("persons/<int:pk>/", views.person_detail, name="person_detail"),
    path("persons/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("persons/<int:pk>/verify/", views.person_verify_view, name="person_verify"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/export.xlsx", views.reconciliation_export, name="reconciliation_export"),
    path("imports/", views.import_page, name="import_page"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/errors.xlsx", views.import_errors, name="import_errors"),
    path("imports/<int:pk>/mapping/", import_mapping.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/confirm/", import_mapping.import_confirm, name="import_confirm"),
    path("imports/templates/", import_mapping.import_templates, name="import_templates"),
    path(
        "imports/templates/<int:pk>.toml",
        import_mapping.import_template_download,
        name="import_template_download",
    ),
    path("audit/", views.audit_log, name="audit_log"),
    path("exports/", views.export_list, name="export_list"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("password/", accounts.password_change, name="password_change"),
    path("users/", accounts.user_list, name="user_list"),
    path("users/<int:pk>/password/", accounts.user_password_reset_view, name="user_password_reset"),
    path("users/<int:pk>/unlock/", accounts.user_unlock_view, name="user_unlock"),
]
