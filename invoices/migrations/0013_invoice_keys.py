# An invoice's (code, number) uniqueness moves to InvoiceKey and lines carry their invoice's
# month: what monthly partitions of invoices and lines need (invoices/partitions.py,
# docs/scaling.md). References into invoices lose their database constraint in place (no
# re-validation); PROTECT and the services guard them.

import django.db.models.deletion
from django.db import migrations, models

from piaogen.migration_ops import AlterFieldInPlace

BACKFILL_KEYS = (
    "INSERT INTO invoices_invoicekey (invoice_id, code, number, month) SELECT id, code, number, month FROM invoices_invoice"
)
BACKFILL_MONTHS = (
    "UPDATE invoices_invoiceline SET month = (SELECT i.month FROM invoices_invoice i"
    " WHERE i.id = invoices_invoiceline.invoice_id)"
)


def backfill(apps, schema_editor):
    # One statement each: seconds on a million invoices. A table of billions would take these in
    # id ranges first (docs/scaling.md, the online move).
    schema_editor.execute(BACKFILL_KEYS)
    schema_editor.execute(BACKFILL_MONTHS)


def unfill(apps, schema_editor):
    schema_editor.execute("DELETE FROM invoices_invoicekey")


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0012_batches"),
    ]

    operations = [
        migrations.CreateModel(
            name="InvoiceKey",
            fields=[
                ("invoice_id", models.BigIntegerField(primary_key=True, serialize=False, verbose_name="发票 ID")),
                ("code", models.CharField(blank=True, max_length=12, verbose_name="发票代码")),
                ("number", models.CharField(max_length=20, verbose_name="发票号码")),
                ("month", models.CharField(max_length=7, verbose_name="所属月份")),
            ],
            options={
                "verbose_name": "发票号码索引",
                "verbose_name_plural": "发票号码索引",
            },
        ),
        migrations.AddField(
            model_name="invoiceline",
            name="month",
            field=models.CharField(default="", max_length=7, verbose_name="所属月份"),
        ),
        AlterFieldInPlace(
            model_name="application",
            name="invoice_to_reverse",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="invoices.invoice",
                verbose_name="被红冲发票",
            ),
        ),
        AlterFieldInPlace(
            model_name="invoice",
            name="original",
            field=models.OneToOneField(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversal",
                to="invoices.invoice",
                verbose_name="原发票",
            ),
        ),
        AlterFieldInPlace(
            model_name="invoiceline",
            name="invoice",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="invoices.invoice",
                verbose_name="发票",
            ),
        ),
        AlterFieldInPlace(
            model_name="redletterconfirmation",
            name="original",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="red_confirmation",
                to="invoices.invoice",
                verbose_name="蓝字发票",
            ),
        ),
        AlterFieldInPlace(
            model_name="redletterconfirmation",
            name="red_invoice",
            field=models.OneToOneField(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="confirmation_of_red",
                to="invoices.invoice",
                verbose_name="红字发票",
            ),
        ),
        AlterFieldInPlace(
            model_name="verificationcounter",
            name="invoice",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="invoices.invoice",
            ),
        ),
        migrations.RunPython(backfill, unfill),
        migrations.AddConstraint(
            model_name="invoicekey",
            constraint=models.UniqueConstraint(fields=("code", "number"), name="invoice_key_code_number_unique"),
        ),
        # The non-unique index first, so lookups by code and number never lose their index.
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["code", "number"], name="invoice_code_number"),
        ),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_code_number_unique",
        ),
    ]
