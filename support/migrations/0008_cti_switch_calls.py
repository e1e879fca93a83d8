"""Calls from the telephone switch: the call log takes the switch's events (ringing, answer,
hang-up), an agent's wrap-up and callbacks. Calls logged by hand before keep what they said:
answered when they started, wrapped up when they were logged, their length as talk time."""

import django.db.models.deletion
import django.utils.timezone
import encrypted_fields.fields
import simple_history.models
from django.conf import settings
from django.db import migrations, models


def settle_logged_calls(apps, schema_editor):
    Call = apps.get_model("support", "Call")
    rows = Call.objects.filter(answered_at__isnull=True).only("pk", "started_at", "ended_at", "created_at")
    batch = []
    for call in rows.iterator(chunk_size=2000):
        call.answered_at = call.started_at
        call.wait_seconds = 0
        call.handle_seconds = max(0, int((call.ended_at - call.started_at).total_seconds())) if call.ended_at else 0
        call.wrapped_at = call.created_at
        batch.append(call)
        if len(batch) >= 2000:
            Call.objects.bulk_update(batch, ["answered_at", "wait_seconds", "handle_seconds", "wrapped_at"])
            batch = []
    if batch:
        Call.objects.bulk_update(batch, ["answered_at", "wait_seconds", "handle_seconds", "wrapped_at"])


class Migration(migrations.Migration):

    dependencies = [
        ('support', '0007_staff_audit'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AgentExtension',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('extension', models.CharField(max_length=16, unique=True, verbose_name='分机')),
            ],
            options={
                'verbose_name': '坐席分机',
                'verbose_name_plural': '坐席分机',
                'ordering': ['extension'],
            },
        ),
        migrations.CreateModel(
            name='HistoricalAgentExtension',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('extension', models.CharField(db_index=True, max_length=16, verbose_name='分机')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical 坐席分机',
                'verbose_name_plural': 'historical 坐席分机',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='SwitchToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, verbose_name='名称')),
                ('digest', models.CharField(max_length=64, unique=True, verbose_name='令牌摘要')),
                ('prefix', models.CharField(max_length=8, verbose_name='令牌前缀')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='创建时间')),
                ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='最近使用')),
                ('revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='吊销时间')),
            ],
            options={
                'verbose_name': '交换机令牌',
                'verbose_name_plural': '交换机令牌',
            },
        ),
        migrations.CreateModel(
            name='Callback',
            fields=[
            ],
            options={
                'verbose_name': '待回拨来电',
                'verbose_name_plural': '待回拨来电',
                'proxy': True,
                'default_permissions': (),
                'indexes': [],
                'constraints': [],
            },
            bases=('support.call',),
        ),
        migrations.AlterModelOptions(
            name='call',
            options={'permissions': [('callback', '可回拨未接来电（回拨时显示完整号码）')], 'verbose_name': '来电记录', 'verbose_name_plural': '来电记录'},
        ),
        migrations.RemoveConstraint(
            model_name='call',
            name='call_ends_after_start',
        ),
        migrations.AddField(
            model_name='call',
            name='answered_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='接听时间'),
        ),
        migrations.AddField(
            model_name='call',
            name='callback_of',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='callbacks', to='support.call', verbose_name='回拨的来电'),
        ),
        migrations.AddField(
            model_name='call',
            name='called_back_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='已回拨接通'),
        ),
        migrations.AddField(
            model_name='call',
            name='direction',
            field=models.CharField(choices=[('in', '呼入'), ('out', '呼出')], default='in', max_length=3, verbose_name='方向'),
        ),
        migrations.AddField(
            model_name='call',
            name='extension',
            field=models.CharField(blank=True, max_length=16, verbose_name='分机'),
        ),
        migrations.AddField(
            model_name='call',
            name='handle_seconds',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='通话（秒）'),
        ),
        migrations.AddField(
            model_name='call',
            name='hangup_cause',
            field=models.CharField(blank=True, max_length=24, verbose_name='挂断原因'),
        ),
        migrations.AddField(
            model_name='call',
            name='line',
            field=models.CharField(blank=True, max_length=20, verbose_name='热线号码'),
        ),
        migrations.AddField(
            model_name='call',
            name='outcome',
            field=models.CharField(choices=[('ringing', '排队振铃中'), ('talking', '通话中'), ('answered', '已接听'), ('missed', '未接'), ('abandoned', '放弃')], default='answered', max_length=12, verbose_name='结果'),
        ),
        migrations.AddField(
            model_name='call',
            name='queue',
            field=models.CharField(blank=True, max_length=32, verbose_name='队列'),
        ),
        migrations.AddField(
            model_name='call',
            name='source',
            field=models.CharField(choices=[('console', '坐席记录'), ('switch', '交换机'), ('callback', '回拨')], default='console', max_length=12, verbose_name='来源'),
        ),
        migrations.AddField(
            model_name='call',
            name='switch_call_id',
            field=models.CharField(blank=True, max_length=64, null=True, unique=True, verbose_name='交换机呼叫编号'),
        ),
        migrations.AddField(
            model_name='call',
            name='switch_events',
            field=models.PositiveSmallIntegerField(default=0, editable=False, verbose_name='已收到的交换机事件'),
        ),
        migrations.AddField(
            model_name='call',
            name='wait_seconds',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='等待（秒）'),
        ),
        migrations.AddField(
            model_name='call',
            name='wrapped_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='小结时间'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='answered_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='接听时间'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='callback_of',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='support.call', verbose_name='回拨的来电'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='called_back_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='已回拨接通'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='direction',
            field=models.CharField(choices=[('in', '呼入'), ('out', '呼出')], default='in', max_length=3, verbose_name='方向'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='extension',
            field=models.CharField(blank=True, max_length=16, verbose_name='分机'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='handle_seconds',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='通话（秒）'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='hangup_cause',
            field=models.CharField(blank=True, max_length=24, verbose_name='挂断原因'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='line',
            field=models.CharField(blank=True, max_length=20, verbose_name='热线号码'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='outcome',
            field=models.CharField(choices=[('ringing', '排队振铃中'), ('talking', '通话中'), ('answered', '已接听'), ('missed', '未接'), ('abandoned', '放弃')], default='answered', max_length=12, verbose_name='结果'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='queue',
            field=models.CharField(blank=True, max_length=32, verbose_name='队列'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='source',
            field=models.CharField(choices=[('console', '坐席记录'), ('switch', '交换机'), ('callback', '回拨')], default='console', max_length=12, verbose_name='来源'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='switch_call_id',
            field=models.CharField(blank=True, db_index=True, max_length=64, null=True, verbose_name='交换机呼叫编号'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='switch_events',
            field=models.PositiveSmallIntegerField(default=0, editable=False, verbose_name='已收到的交换机事件'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='wait_seconds',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='等待（秒）'),
        ),
        migrations.AddField(
            model_name='historicalcall',
            name='wrapped_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='小结时间'),
        ),
        migrations.AlterField(
            model_name='call',
            name='agent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='坐席'),
        ),
        migrations.AlterField(
            model_name='call',
            name='caller_digest',
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=64, verbose_name='来电号码摘要'),
        ),
        migrations.AlterField(
            model_name='call',
            name='caller_masked',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name='来电号码'),
        ),
        migrations.AlterField(
            model_name='call',
            name='caller_number',
            field=encrypted_fields.fields.EncryptedCharField(blank=True, max_length=20, null=True, verbose_name='来电号码'),
        ),
        migrations.AlterField(
            model_name='call',
            name='category',
            field=models.CharField(blank=True, choices=[('account', '注册与登录'), ('binding', '绑卡与解绑'), ('trips', '通行记录'), ('invoicing', '开票'), ('tax', '税率与抵扣'), ('title', '抬头、换票与红冲'), ('delivery', '查验、下载与邮寄'), ('other', '其他')], max_length=16, verbose_name='分类'),
        ),
        migrations.AlterField(
            model_name='call',
            name='ended_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='结束时间'),
        ),
        migrations.AlterField(
            model_name='call',
            name='started_at',
            field=models.DateTimeField(db_index=True, verbose_name='开始时间'),
        ),
        migrations.AlterField(
            model_name='call',
            name='summary',
            field=encrypted_fields.fields.EncryptedTextField(blank=True, null=True, verbose_name='通话摘要'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='caller_digest',
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=64, verbose_name='来电号码摘要'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='caller_masked',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name='来电号码'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='category',
            field=models.CharField(blank=True, choices=[('account', '注册与登录'), ('binding', '绑卡与解绑'), ('trips', '通行记录'), ('invoicing', '开票'), ('tax', '税率与抵扣'), ('title', '抬头、换票与红冲'), ('delivery', '查验、下载与邮寄'), ('other', '其他')], max_length=16, verbose_name='分类'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='ended_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='结束时间'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='started_at',
            field=models.DateTimeField(db_index=True, verbose_name='开始时间'),
        ),
        migrations.AlterField(
            model_name='historicalcall',
            name='summary',
            field=encrypted_fields.fields.EncryptedTextField(blank=True, null=True, verbose_name='通话摘要'),
        ),
        migrations.AlterField(
            model_name='reveal',
            name='text',
            field=models.CharField(choices=[('ticket_subject', '工单主题'), ('ticket_message', '工单消息'), ('call_summary', '通话摘要'), ('caller_number', '完整来电号码（回拨）')], max_length=16, verbose_name='查看内容'),
        ),
        migrations.AddIndex(
            model_name='call',
            index=models.Index(fields=['agent', 'wrapped_at'], name='call_agent_open'),
        ),
        migrations.AddIndex(
            model_name='call',
            index=models.Index(fields=['outcome', 'called_back_at', 'started_at'], name='call_callback_list'),
        ),
        migrations.AddConstraint(
            model_name='call',
            constraint=models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), ('ended_at__gte', models.F('started_at')), _connector='OR'), name='call_ends_after_start'),
        ),
        migrations.AddField(
            model_name='agentextension',
            name='staff',
            field=models.OneToOneField(limit_choices_to={'is_staff': True}, on_delete=django.db.models.deletion.PROTECT, related_name='switch_extension', to=settings.AUTH_USER_MODEL, verbose_name='坐席'),
        ),
        migrations.AddField(
            model_name='historicalagentextension',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalagentextension',
            name='staff',
            field=models.ForeignKey(blank=True, db_constraint=False, limit_choices_to={'is_staff': True}, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='坐席'),
        ),
        migrations.RunPython(settle_logged_calls, migrations.RunPython.noop),
    ]
