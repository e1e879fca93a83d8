"""The one-time notice of an unbinding lives in the message centre (``Notification.shown_at``,
carried over by ``support.0011_binding_notices``): the binding's own field goes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0010_one_network_code_table"),
        ("support", "0011_binding_notices"),
    ]

    operations = [
        migrations.RemoveField(model_name="binding", name="notice_seen_at"),
        migrations.RemoveField(model_name="historicalbinding", name="notice_seen_at"),
    ]
