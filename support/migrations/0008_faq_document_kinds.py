"""The help centre's answers for the kinds of toll document (docs/regimes.md): the toll fiscal
e-bill of loan-repayment roads, the 数电 invoice, which documents are deductible, how each kind
is verified, trips from the 7th natural day, no summary sheet for recharges, and why 换票 leaves
fiscal e-bills as they are.

Answers shipped by 0002 are brought up to date only where staff have not edited them (the stored
text is still the one shipped); two questions are added. The texts are marked (gettext_noop) like
0002's.
"""

import importlib

from django.db import migrations
from django.utils.translation import gettext_noop

SHIPPED = {
    question: answer
    for _c, question, answer, *_rest in importlib.import_module("support.migrations.0002_faq_content").FAQS
}

# question (as shipped in 0002) -> (new answer, new keywords)
UPDATES = {
    "通行后多久能查到通行记录？": (
        gettext_noop(
            "一条通行记录要经过收费站、各省清分结算中心等多个环节的清分和拆分，才能传到票根。"
            "因此请在通行后的第{days}个自然日起查询和开票，下方是按今天计算的日期。"
            "2020年起的收费公路通行费电子票据规定把这个时间从第10个自然日提前到了第7个自然日，"
            "所以现在的通行一般从第7个自然日起就能查到。\n\n"
            "超过这个日期仍然查不到，请确认：这次通行用的是否是已绑定的这张卡；是否用ETC卡或用户卡支付"
            "（现金、扫码支付的通行不会出现在票根）；入口和出口是否都正常识别。仍有疑问可以使用自助诊断或提交工单。"
        ),
        "多久 几天 查不到 通行记录 什么时候 出现 没有记录 延迟 第7天 第10天 看不到 7个自然日",
    ),
    "征税发票和不征税发票有什么区别？": (
        gettext_noop(
            "征税发票：经营性收费公路的经营单位开具，税率栏显示3%、5%、9%等适用税率或征收率。"
            "以前开具的增值税电子普通发票左上角印有“通行费”字样；现在的数电发票标明特定业务“通行费”。\n\n"
            "不征税：政府还贷公路的通行费不征增值税。2020年以前的通行开具不征税的增值税电子普通发票"
            "（左上角没有“通行费”字样，税率栏显示“不征税”）；2020年起的通行，这部分改为由经营单位开具"
            "通行费财政电子票据，它不是增值税发票。储值卡的充值发票也是不征税发票。\n\n"
            "一次通行如果既经过经营性路段又经过政府还贷路段，会分别得到征税发票和不征税的票据。"
        ),
        "征税 不征税 区别 通行费字样 左上角 税率 政府还贷 不收税 财政票据",
    ),
    "通行费发票可以抵扣吗？税率是多少？": (
        gettext_noop(
            "只有征税发票才能作为增值税进项税额的抵扣凭证，包括以前的增值税电子普通发票（通行费）和现在的数电发票，"
            "而且发票抬头必须是您单位的名称和纳税人识别号：个人抬头的发票不能抵扣。\n\n"
            "以下都不能抵扣：通行费财政电子票据（政府还贷路段）、不征税发票（2020年以前的政府还贷路段发票、充值发票）、"
            "个人抬头的发票。\n\n"
            "税率（征收率）由路段和通行日期决定：\n"
            "· 2016年4月30日（含）前开工的经营性高速公路：3%（简易计税）；\n"
            "· 2016年4月30日（含）前开工的经营性一级、二级公路和独立桥梁、隧道：5%（简易计税）；\n"
            "· 2016年4月30日后开工的经营性收费公路：2018年5月1日前通行为11%，之后为10%，2019年4月1日起为9%；\n"
            "· 政府还贷公路：不征税。\n\n每张可抵扣发票的可抵扣税额就是票面上的税额合计。具体抵扣以主管税务机关的规定为准。"
        ),
        "抵扣 进项 税率 3% 5% 9% 10% 11% 可抵扣 增值税 简易计税 征收率 财政票据 个人抬头 不能抵扣 数电",
    ),
    "怎样查验通行费电子发票的真伪？": (
        gettext_noop(
            "在票根的“发票查验”页面，按票据种类输入：\n"
            "· 增值税电子普通发票（通行费）：发票代码、发票号码、开票日期和校验码后6位；\n"
            "· 数电发票：20位发票号码、开票日期和价税合计（数电发票没有发票代码和校验码）；\n"
            "· 通行费财政电子票据：票据代码、票据号码、开票日期和校验码。\n\n"
            "结果会显示票据内容以及是否已被红冲。同一张票据每天最多查验5次。"
            "发票也可以在国家税务总局全国增值税发票查验平台查验，财政电子票据可以在财政部门的票据查验平台查验。"
        ),
        "查验 真伪 真假 验真 核验 校验码 发票代码 发票号码 数电 财政票据 价税合计",
    ),
    "什么是电子汇总单？": (
        gettext_noop(
            "通行费开票申请会生成一张电子汇总单，编号16位。它列出这次申请包含的每条通行记录、每条记录开出的发票"
            "和财政电子票据（按号码）以及合计金额，方便您和财务核对“为什么有这么多张发票”。汇总单包含在申请的ZIP压缩包中。\n\n"
            "充值开票没有汇总单：2020年起的规定是充值交易不开具电子汇总单，一笔充值只对应一张充值发票，"
            "发票本身就能报销。2020年以前的充值开票申请仍有汇总单。"
        ),
        "汇总单 汇总 清单 对账 核对 16位 充值 没有汇总单",
    ),
    "发票抬头开错了怎么办？": (
        gettext_noop(
            "已开出的发票不能直接修改。票根提供“换票”：在“我的发票”中找到这笔开票申请，选择“换票”并选好正确的抬头"
            "（没有的话先在“发票抬头”中新增）。换票会把原申请的发票红冲，再用新抬头重新开具，新旧发票都能在申请详情中看到。\n\n"
            "通行费财政电子票据不能换开：它的交款人以通行前登记的信息为准，开具后不再更改，换票时会保留原样。"
            "想让以后的通行用另一个抬头，请在通行前修改这张ETC卡的默认抬头。\n\n"
            "换票前请确认新抬头的名称和纳税人识别号无误。申请还没有开出发票时发现抬头有误，可以联系客服处理。"
        ),
        "抬头 开错 写错 填错 换票 修改抬头 重开 名称错误 税号错误 财政票据 默认抬头",
    ),
}

NEW = [
    # category, question, answer, link url name, link label, keywords, ordering
    (
        "invoicing",
        gettext_noop("什么是通行费财政电子票据？为什么通行后开出的是它？"),
        gettext_noop(
            "通行费财政电子票据是政府还贷收费公路的经营管理单位，为它收取的通行费开具的财政票据。"
            "政府还贷公路的通行费不征增值税：按照2020年起的收费公路通行费电子票据规定，一次通行中经过政府还贷路段的那部分，"
            "开具的是通行费财政电子票据，而不是增值税发票；经营性路段的部分仍开发票。"
            "所以一次通行既经过政府还贷路段又经过经营性路段时，会同时得到财政电子票据和发票。\n\n"
            "财政电子票据有8位票据代码、10位票据号码和6位校验码，不征税，不能作为进项税额抵扣，但可以报销入账。"
            "它的交款人以通行前登记的信息为准，开具后不能换开。在“通行记录”中，每次通行都会写明将开出哪些票据。"
        ),
        "invoices:transits",
        gettext_noop("查看通行记录将开出的票据"),
        "财政票据 财政电子票据 通行费财政电子票据 政府还贷 还贷 不是发票 票据代码 交款人 财政",
        235,
    ),
    (
        "invoicing",
        gettext_noop("什么是数电发票？为什么没有发票代码和校验码？"),
        gettext_noop(
            "数电发票是全面数字化的电子发票，票面名称为“电子发票（普通发票）”，通行费发票标明特定业务“通行费”。"
            "它只有一个20位的发票号码（年份、税务机关地区、开票渠道和顺序号），没有发票代码、校验码、机器编号和密码区。\n\n"
            "查验数电发票用20位发票号码、开票日期和价税合计。红冲数电发票要先有红字确认单（红字发票信息确认单），"
            "红字发票的备注会写明原发票号码和确认单编号。单位抬头的征税数电发票可以抵扣进项税额。"
        ),
        "verify",
        gettext_noop("发票查验"),
        "数电 数电发票 全电 全电发票 20位 发票号码 没有发票代码 没有校验码 电子发票（普通发票） 红字确认单",
        236,
    ),
]


def load(apps, schema_editor):
    from support.search import index_fields

    Faq = apps.get_model("support", "Faq")
    FaqCategory = apps.get_model("support", "FaqCategory")
    for question, (answer, keywords) in UPDATES.items():
        faq = Faq.objects.filter(question=question).first()
        if faq is None or faq.answer != SHIPPED[question]:
            continue  # removed, or edited by staff: their text stands
        faq.answer, faq.keywords = answer, keywords
        faq.question_tokens, faq.answer_tokens = index_fields(faq.question, keywords, answer)
        faq.save(update_fields=["answer", "keywords", "question_tokens", "answer_tokens"])
    categories = {c.code: c for c in FaqCategory.objects.all()}
    for category, question, answer, url_name, label, keywords, ordering in NEW:
        if category not in categories:
            continue
        question_tokens, answer_tokens = index_fields(question, keywords, answer)
        Faq.objects.get_or_create(
            question=question,
            defaults={
                "category": categories[category],
                "answer": answer,
                "link_url_name": url_name,
                "link_label": label,
                "keywords": keywords,
                "ordering": ordering,
                "question_tokens": question_tokens,
                "answer_tokens": answer_tokens,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("support", "0007_staff_audit")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
