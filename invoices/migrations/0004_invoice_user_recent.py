# A user's newest invoices (我的发票, the App's list) without sorting all of them; built without
# locking out issuing on PostgreSQL.

from django.conf import settings
from django.db import migrations, models

from piaogen.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('cards', '0004_issuer_seller'),
        ('invoices', '0003_leaner_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexOnline(
            model_name='invoice',
            index=models.Index(fields=['user', '-issued_at', '-id'], name='invoice_user_recent'),
        ),
    ]
