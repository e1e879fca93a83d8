# Each user's invoices counted per card and month, from the invoices already written (one
# aggregate; on the 10M-invoice bench database see docs/performance.md). Issuing keeps it up to
# date from here on (invoices/services.py, _count_months).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cards', '0012_merge_one_network_code_auto_invoice'),
        ('invoices', '0014_partition_invoices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.CharField(max_length=7, verbose_name='所属月份')),
                ('count', models.PositiveIntegerField(default=0, verbose_name='发票张数')),
                ('first_issued_at', models.DateTimeField(verbose_name='最早开具时间')),
                ('last_issued_at', models.DateTimeField(verbose_name='最近开具时间')),
                ('card', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cards.card', verbose_name='ETC卡')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='用户')),
            ],
            options={
                'verbose_name': '按卡按月发票汇总',
                'verbose_name_plural': '按卡按月发票汇总',
                'indexes': [models.Index(models.F('user'), models.OrderBy(models.F('month'), descending=True), name='invoice_month_user_newest')],
                'constraints': [models.UniqueConstraint(fields=('user', 'card', 'month'), name='invoice_month_unique')],
            },
        ),
        migrations.RunSQL(
            "INSERT INTO invoices_invoicemonth (user_id, card_id, month, count, first_issued_at, last_issued_at) "
            "SELECT user_id, card_id, month, count(*), min(issued_at), max(issued_at) FROM invoices_invoice "
            "GROUP BY user_id, card_id, month",
            migrations.RunSQL.noop,
        ),
    ]
