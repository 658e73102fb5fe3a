"""Administrators read the deployment-wide catalogues (service packages, the disease catalogue) but no
longer change or delete their rows (``accounts.admin.DeploymentCatalogueAdmin``, issue 21: one catalogue
for every county of a province; a region's own changes go through ``CatalogueEntry``); a new disease
an administrator adds enters its own region's catalogue only, service packages no longer get added.

New accounts get only what ``accounts.services.LIMITED_ADMIN_MODELS`` keeps; accounts made before this
release hold the rest, which the admin refuses anyway — removed here so that the permissions on record
say what an account may do. Superusers keep theirs (they need none).
"""

from django.db import migrations

TAKEN = {("care", "servicepackage"): ("add", "change", "delete"), ("registry", "disease"): ("change", "delete")}


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("accounts", "User")
    for (app_label, model), actions in TAKEN.items():
        editing = Permission.objects.filter(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
        for user in User.objects.filter(is_superuser=False, user_permissions__in=editing).distinct():
            user.user_permissions.remove(*editing)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_city_province_roles"),
        ("care", "0002_member_staff"),
        ("registry", "0016_province_county_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(revoke, migrations.RunPython.noop)]
