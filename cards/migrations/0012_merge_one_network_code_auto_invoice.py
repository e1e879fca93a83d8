"""Joins the two lines that both started from 0009: automatic invoicing, and one network-code
table with the unbinding notices in the message centre. No operations."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0010_auto_invoice"),
        ("cards", "0011_binding_notice_seen_at_removed"),
    ]

    operations = []
