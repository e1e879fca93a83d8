# The national trip id's uniqueness moves to TransitKey and segments carry their trip's month:
# what monthly partitions of trips and segments need (invoices/partitions.py, docs/scaling.md).
# References into trips lose their database constraint in place (no re-validation).

import django.db.models.deletion
from django.db import migrations, models

from piaogen.migration_ops import AlterFieldInPlace


BACKFILL_KEYS = (
    "INSERT INTO invoices_transitkey (transit_id, trip_id, month) SELECT transit_id, id, month FROM invoices_transit"
)
BACKFILL_MONTHS = (
    "UPDATE invoices_transitsegment SET month = (SELECT t.month FROM invoices_transit t"
    " WHERE t.id = invoices_transitsegment.transit_id)"
)


def backfill(apps, schema_editor):
    # One statement each: seconds on a million trips. A table of billions would take these in
    # id ranges first (docs/scaling.md, the online move).
    schema_editor.execute(BACKFILL_KEYS)
    schema_editor.execute(BACKFILL_MONTHS)


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0009_document_kinds'),
    ]

    operations = [
        migrations.CreateModel(
            name='TransitKey',
            fields=[
                ('transit_id', models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name='通行记录编号')),
                ('trip_id', models.BigIntegerField(verbose_name='通行记录 ID')),
                ('month', models.CharField(max_length=7, verbose_name='通行月份')),
            ],
            options={
                'verbose_name': '通行记录编号索引',
                'verbose_name_plural': '通行记录编号索引',
            },
        ),
        migrations.AddField(
            model_name='transitsegment',
            name='month',
            field=models.CharField(default='', max_length=7, verbose_name='通行月份'),
        ),
        AlterFieldInPlace(
            model_name='applicationitem',
            name='transit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='application_items', to='invoices.transit', verbose_name='通行记录'),
        ),
        AlterFieldInPlace(
            model_name='invoiceline',
            name='transit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='invoice_lines', to='invoices.transit', verbose_name='通行记录'),
        ),
        migrations.AlterField(
            model_name='transit',
            name='transit_id',
            field=models.CharField(max_length=64, verbose_name='通行记录编号'),
        ),
        AlterFieldInPlace(
            model_name='transitchange',
            name='transit',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='changes', to='invoices.transit', verbose_name='通行记录'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
