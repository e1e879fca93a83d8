# Trips become partitioned by month on PostgreSQL: references into them carry no constraint.

import django.db.models.deletion
from django.db import migrations, models

from piaogen.migration_ops import AlterFieldInPlace


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0010_transit_keys'),
        ('support', '0009_merge_0008_cti_switch_calls_0008_faq_document_kinds'),
    ]

    operations = [
        AlterFieldInPlace(
            model_name='ticket',
            name='transit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoices.transit', verbose_name='相关通行记录'),
        ),
    ]
