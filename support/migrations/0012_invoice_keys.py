# The ticket's reference to an invoice loses its database constraint in place: invoices become
# partitioned by month on PostgreSQL (invoices/partitions.py, docs/scaling.md).

import django.db.models.deletion
from django.db import migrations, models

from piaogen.migration_ops import AlterFieldInPlace


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0013_invoice_keys"),
        ("support", "0011_binding_notices"),
    ]

    operations = [
        AlterFieldInPlace(
            model_name="ticket",
            name="invoice",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="invoices.invoice",
                verbose_name="相关发票",
            ),
        ),
    ]
