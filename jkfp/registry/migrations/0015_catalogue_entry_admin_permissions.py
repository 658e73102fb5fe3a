"""Grant the administrators of an existing installation the right to edit the per-region catalogue.

New accounts get it from ``accounts.services.COUNTY_ADMIN_MODELS`` when created; accounts made
before this release got that tuple without ``registry.catalogueentry``. Its permissions are created
here (Django would only add them after every migration ran) and given to every county, city and
province administrator who can already edit the disease catalogue.
"""

from django.db import migrations

ADMIN_ROLES = ("county_admin", "city_admin", "province_admin")
ACTIONS = {"add": "Can add", "change": "Can change", "delete": "Can delete", "view": "Can view"}


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("accounts", "User")
    ct, _ = ContentType.objects.get_or_create(app_label="registry", model="catalogueentry")
    perms = [
        Permission.objects.get_or_create(
            content_type=ct, codename=f"{action}_catalogueentry", defaults={"name": f"{label} 区划病种目录"}
        )[0]
        for action, label in ACTIONS.items()
    ]
    for user in User.objects.filter(
        role__in=ADMIN_ROLES,
        user_permissions__content_type__app_label="registry",
        user_permissions__content_type__model="disease",
    ).distinct():
        user.user_permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0014_catalogue_entry_per_region"),
        ("accounts", "0007_city_province_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
