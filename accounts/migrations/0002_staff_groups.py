from django.db import migrations

ROLES = ["agent", "supervisor", "data_fix", "admin"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    # Permissions are attached by accounts.roles.sync_role_permissions after every migrate.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
