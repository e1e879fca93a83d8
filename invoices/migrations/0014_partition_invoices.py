# On PostgreSQL, invoices and their lines become partitioned by month when they hold no row yet
# (a new database), beside the trips of the same month; a populated database keeps its plain
# tables until `manage.py partitions move` partitions them online (invoices/partitions.py,
# docs/scaling.md). SQLite keeps plain tables.

from django.db import migrations


def partition(apps, schema_editor):
    from invoices import partitions

    partitions.partition_empty_tables(tables=partitions.INVOICE_TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0013_invoice_keys"),
        # The ticket's reference to an invoice loses its constraint first: the plain table is replaced.
        ("support", "0012_invoice_keys"),
    ]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
