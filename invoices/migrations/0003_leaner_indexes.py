# Fewer indexes and constraints on the tables that grow by millions a day: each is work on every
# insert. Dropped: indexes another index already starts with (invoice user, line invoice, segment
# trip, transit card); single-column indexes nobody queries alone (invoice month; buyer tax id,
# covered by invoice_buyer_feed; the text-pattern index of transit_id); the database constraints
# and indexes of segment sections and operators and of the partner that pushed a trip (reference
# data the product never deletes; PROTECT still holds in the ORM) and of the segment's trip (only
# the ingest writes segments, with their trip, in one transaction). The render-status and
# recharge-line indexes become partial. On PostgreSQL every drop is done in place
# (piaogen.migration_ops): no table is rewritten or re-validated.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from piaogen.migration_ops import AlterFieldInPlace, DropPatternIndex


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_staff_groups'),
        ('cards', '0004_issuer_seller'),
        ('invoices', '0002_verification_counter'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        DropPatternIndex(model_name='transit', name='transit_id'),
        migrations.RemoveIndex(
            model_name='invoice',
            name='invoice_render_status',
        ),
        AlterFieldInPlace(
            model_name='invoice',
            name='buyer_tax_id',
            field=models.CharField(blank=True, max_length=18, verbose_name='购买方纳税人识别号'),
        ),
        AlterFieldInPlace(
            model_name='invoice',
            name='month',
            field=models.CharField(max_length=7, verbose_name='所属月份'),
        ),
        AlterFieldInPlace(
            model_name='invoice',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='invoices', to=settings.AUTH_USER_MODEL),
        ),
        AlterFieldInPlace(
            model_name='invoiceline',
            name='invoice',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='invoices.invoice'),
        ),
        AlterFieldInPlace(
            model_name='invoiceline',
            name='recharge',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='invoice_lines', to='invoices.recharge'),
        ),
        AlterFieldInPlace(
            model_name='transit',
            name='card',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='transits', to='cards.card', verbose_name='ETC卡'),
        ),
        AlterFieldInPlace(
            model_name='transit',
            name='pushed_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.partner', verbose_name='推送方'),
        ),
        AlterFieldInPlace(
            model_name='transitsegment',
            name='operator',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoices.operator', verbose_name='经营单位'),
        ),
        AlterFieldInPlace(
            model_name='transitsegment',
            name='section',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoices.roadsection', verbose_name='路段'),
        ),
        AlterFieldInPlace(
            model_name='transitsegment',
            name='transit',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='segments', to='invoices.transit'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('render_status', 'rendered'), _negated=True), fields=['render_status'], name='invoice_render_pending'),
        ),
        migrations.AddIndex(
            model_name='invoiceline',
            index=models.Index(condition=models.Q(('recharge__isnull', False)), fields=['recharge'], name='invoice_line_recharge'),
        ),
    ]
