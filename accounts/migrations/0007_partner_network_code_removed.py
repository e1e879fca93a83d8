"""The partner table of network codes is gone: its rows now live in ``cards.IssuerNetworkCode``
and ``cards.Issuer.partner`` (``cards.0010_one_network_code_table`` carried them over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_sms_code_client"),
        ("cards", "0010_one_network_code_table"),
    ]

    operations = [migrations.DeleteModel(name="PartnerNetworkCode")]
