"""The help centre's categories and questions, and the SLA table.

Written for this product. Answers may hold {days} (TRANSIT_AVAILABLE_AFTER_DAYS) and
{hotline} (SUPPORT_HOTLINE), filled in when shown; issuer hotlines come from the Issuer
table at display time (extra = issuer_hotlines). Staff edit all of it in the console.
The texts are marked (gettext_noop) so that locale/en carries their English: pages show it
for a text as shipped, and the text as stored once staff have edited it.
"""

from django.db import migrations
from django.utils.translation import gettext_noop

CATEGORIES = [
    # code, name, description, ordering
    ("binding", gettext_noop("绑卡与解绑"), gettext_noop("绑定ETC卡、预留信息不一致、单位卡、解绑"), 10),
    ("trips", gettext_noop("通行记录"), gettext_noop("通行记录什么时候能查到、金额与路段"), 20),
    ("invoicing", gettext_noop("开票"), gettext_noop("一次通行几张发票、开票方式、储值卡、开票失败"), 30),
    ("tax", gettext_noop("税率与抵扣"), gettext_noop("征税与不征税发票、税率、进项抵扣"), 40),
    ("title", gettext_noop("抬头、换票与红冲"), gettext_noop("发票抬头、抬头开错、红字发票"), 50),
    ("delivery", gettext_noop("查验、下载与邮寄"), gettext_noop("查验真伪、下载、邮箱接收、打印报销"), 60),
    ("account", gettext_noop("注册与登录"), gettext_noop("注册、登录、短信验证码"), 70),
    ("other", gettext_noop("其他"), gettext_noop("联系客服"), 80),
]

SLA_HOURS = {
    "account": 24,
    "binding": 24,
    "trips": 48,
    "invoicing": 24,
    "tax": 48,
    "title": 24,
    "delivery": 24,
    "other": 72,
}

FAQS = [
    # category, question, answer, link url name, link label, keywords, extra
    (
        "binding",
        gettext_noop("绑卡时提示“预留手机号不一致”怎么办？"),
        gettext_noop(
            "绑卡时，票根会把您填写的手机号与办理ETC卡时在发行方预留的手机号进行比对，两者不一致就无法绑定。"
            "常见原因是办卡后换了手机号，或者办卡时留的是家人、单位经办人的号码。\n\n"
            "票根看不到、也改不了发行方的预留信息。请联系ETC卡所属省份的发行方（卡号前4位代表发卡省份），"
            "核实或更新预留手机号，更新完成后回到票根重新绑卡即可。下方列出了各发行方的客服热线。"
        ),
        "cards:list",
        gettext_noop("去绑定ETC卡"),
        "绑卡 失败 手机号 不一致 不对 预留 换号 发行方",
        "issuer_hotlines",
    ),
    (
        "binding",
        gettext_noop("绑卡时提示“证件号码不一致”怎么办？"),
        gettext_noop(
            "绑卡需要填写办理ETC卡时使用的证件类型和证件号码。提示不一致时请先检查：证件类型是否选对"
            "（个人一般是居民身份证，单位卡是统一社会信用代码）；身份证末位的X有没有漏填；是不是填了换证前的旧号码。\n\n"
            "确认填写无误仍然提示不一致，说明发行方登记的证件信息与您填写的不同，请联系发卡省份的发行方核实更正，之后重新绑卡。"
            "为保护持卡人信息，每个账户、每张卡每天的失败次数有上限，达到上限后请第二天再试。"
        ),
        "cards:list",
        gettext_noop("去绑定ETC卡"),
        "证件 身份证 证件号码 不一致 不对 证件类型 绑卡失败",
        "issuer_hotlines",
    ),
    (
        "binding",
        gettext_noop("绑卡时提示“卡号不存在”或“卡已注销”是什么原因？"),
        gettext_noop(
            "卡号是ETC卡正面印的20位数字，前4位是发卡省份的卡片网络编号。提示卡号不存在时，请核对是否输错，"
            "是否把车载设备（OBU）上的编号当成了卡号；新办的卡要等发行方把卡片信息上传到票根后才能绑定，一般需要1到2个工作日。\n\n"
            "提示卡已注销，说明这张卡已在发行方办理了注销，不能再绑定。换了新卡的请绑定新卡；对卡片状态有疑问请联系发行方。"
        ),
        "cards:list",
        gettext_noop("去绑定ETC卡"),
        "卡号 不存在 注销 找不到 20位 新办卡 OBU",
        "issuer_hotlines",
    ),
    (
        "binding",
        gettext_noop("提示“该卡已被其他账户绑定”怎么办？"),
        gettext_noop(
            "一张ETC卡同一时间只能绑定在一个票根账户上。卡是您本人的，可能是您以前用另一个手机号注册过票根并绑了这张卡，"
            "请用那个账户登录后解绑；也可能是家人或原车主绑定了它。\n\n"
            "原账户无法登录时，可以请发行方更新这张卡的预留手机号：预留信息一变更，卡会从原账户自动解绑，之后您就能重新绑定。"
            "原账户已经开出的发票仍保留在原账户中。"
        ),
        "cards:list",
        gettext_noop("我的ETC卡"),
        "已被绑定 其他账户 别人绑定 原车主 二手车 占用",
        "issuer_hotlines",
    ),
    (
        "binding",
        gettext_noop("单位（企业）名下的ETC卡怎么绑定？"),
        gettext_noop(
            "证件类型为统一社会信用代码的ETC卡是单位卡，只能绑定到票根的单位账户，而且这个单位账户注册用的手机号，"
            "必须是发行方登记的单位联系人手机号。\n\n"
            "请先用联系人手机号注册单位账户（填写单位名称和统一社会信用代码），再绑卡。单位联系人已经换人的，请先到发行方更新联系人手机号。"
        ),
        "accounts:register",
        gettext_noop("注册单位账户"),
        "单位卡 企业卡 公司 统一社会信用代码 联系人 单位账户 对公 非单位联系人",
        "",
    ),
    (
        "binding",
        gettext_noop("如何解绑ETC卡？为什么我的卡被自动解绑了？"),
        gettext_noop(
            "主动解绑：在“我的ETC卡”中找到这张卡，点“解绑”即可。解绑后不能再为这张卡申请发票，已开出的发票仍可在“我的发票”中查看和下载。\n\n"
            "自动解绑：发行方登记的持卡人姓名、证件类型、证件号码或预留手机号发生变化，或者卡片被注销时，票根会自动解绑这张卡，"
            "并在您下次登录时告诉您原因。\n\n无论哪种解绑，重新验证信息后都可以再次绑定。"
        ),
        "cards:list",
        gettext_noop("我的ETC卡"),
        "解绑 解除绑定 取消绑定 自动解绑 被解绑 删除卡 换卡",
        "",
    ),
    (
        "trips",
        gettext_noop("通行后多久能查到通行记录？"),
        gettext_noop(
            "一条通行记录要经过收费站、各省清分结算中心等多个环节的清分和拆分，才能传到票根。"
            "因此请在通行后的第{days}个自然日起查询和开票，下方是按今天计算的日期。\n\n"
            "超过这个日期仍然查不到，请确认：这次通行用的是否是已绑定的这张卡；是否用ETC卡或用户卡支付"
            "（现金、扫码支付的通行不会出现在票根）；入口和出口是否都正常识别。仍有疑问可以使用自助诊断或提交工单。"
        ),
        "invoices:transits",
        gettext_noop("查看通行记录"),
        "多久 几天 查不到 通行记录 什么时候 出现 没有记录 延迟 第10天 看不到",
        "transit_dates",
    ),
    (
        "trips",
        gettext_noop("通行记录的金额或路段与实际不符怎么办？"),
        gettext_noop(
            "票根显示的通行费金额和路段拆分来自清分结算中心。记录在开票前被更正时，票根会自动更新；已经开票的记录不会被改动。\n\n"
            "对扣费金额有异议，请联系发卡的发行方或所经路段的经营单位处理；也可以提交工单并附上这条通行记录，"
            "客服会转交对方并告诉您受理编号。"
        ),
        "support:ticket_new",
        gettext_noop("提交工单"),
        "金额 不对 扣费 多扣 收费 异议 拆分 错误 路段",
        "",
    ),
    (
        "invoicing",
        gettext_noop("为什么通行一次开出了好几张发票？"),
        gettext_noop(
            "一段看起来连续的收费公路，往往分属于不同的路段经营管理单位。按照“谁提供服务、谁开具发票”的原则，"
            "每家经营单位为自己收取的那部分通行费各开一张发票，所以一次通行经过几家经营单位，就会得到几张发票；"
            "同一家单位的征税路段和不征税路段也会分开开票。\n\n"
            "在“通行记录”中可以看到每次通行经过的路段、所属经营单位和税率；开票后的电子汇总单会列出每条通行记录对应的发票。"
            "电子发票无需打印，可以直接用于报销入账。"
        ),
        "invoices:transits",
        gettext_noop("查看通行记录及其路段"),
        "几张 多张 好几张 一次通行 多个发票 为什么 经营单位 拆分 汇总单 浪费",
        "",
    ),
    (
        "invoicing",
        gettext_noop("按次开票和按月汇总开票有什么区别？"),
        gettext_noop(
            "按次开票：每次通行单独开票，每次通行按经营单位各开一张，适合需要逐笔报销的情况。\n\n"
            "按月汇总：把一张卡在一个自然月内的通行，按经营单位和税率汇总，每家经营单位每种税率只开一张，每次通行作为一行明细，"
            "发票张数少得多。\n\n两种方式都只能选择已经可查的通行记录，同一条通行记录只能开一次票。"
        ),
        "invoices:apply",
        gettext_noop("去开票"),
        "按次 按月 汇总 月度 合并开票 一张发票 开票方式 区别",
        "",
    ),
    (
        "invoicing",
        gettext_noop("储值卡应该开充值发票还是通行费发票？"),
        gettext_noop(
            "储值卡（预付费卡）只能在两种方式中选一种：\n"
            "· 充值发票：按每笔充值开具，由发卡的发行方开具，是不征税发票，不能抵扣；\n"
            "· 通行费（消费）发票：按实际通行开具，由路段经营单位开具，征税路段的发票可以抵扣。\n\n"
            "一张储值卡第一次申请开票时所选的方式会固定下来，之后不能再改，以免同一笔钱开两次票。需要抵扣的单位用户一般应选择通行费发票。"
            "记账卡（后付费卡）只开通行费发票。"
        ),
        "invoices:apply",
        gettext_noop("去开票"),
        "储值卡 充值 消费 充值发票 通行费发票 选择 预付费 记账卡 不能更改",
        "",
    ),
    (
        "invoicing",
        gettext_noop("开票申请显示“开票失败”怎么办？"),
        gettext_noop(
            "开票在后台进行，失败时申请详情里会写明原因，例如抬头信息有误、所选通行记录在开票过程中被更正等。"
            "系统繁忙引起的失败会自动重试；其他原因请按提示修改后重新申请。\n\n"
            "在“自助诊断”中选择这笔申请，可以看到它的状态和失败原因；无法自行处理时请提交工单并附上这笔申请，客服可以帮您重新提交。"
        ),
        "support:diagnose",
        gettext_noop("自助诊断"),
        "开票失败 失败原因 申请失败 一直开票中 卡住 没开出来 重新提交",
        "",
    ),
    (
        "invoicing",
        gettext_noop("如何开具第一张通行费电子发票？"),
        gettext_noop(
            "四步即可：\n1. 用手机号注册票根账户（个人或单位）；\n2. 绑定ETC卡或用户卡，需要发行方预留的证件号码和手机号；\n"
            "3. 在“发票抬头”中添加抬头；\n4. 通行后第{days}个自然日起，在“我要开票”中选择通行记录并提交申请。\n\n"
            "开票完成后可以在“我的发票”中下载，也可以发送到邮箱。"
        ),
        "invoices:apply",
        gettext_noop("我要开票"),
        "注册 步骤 流程 开票 第一次 新用户 怎么开发票 入门",
        "",
    ),
    (
        "tax",
        gettext_noop("征税发票和不征税发票有什么区别？"),
        gettext_noop(
            "征税发票：左上角印有“通行费”字样，税率栏显示3%、5%、9%等适用税率或征收率，由经营性收费公路的经营单位开具。\n\n"
            "不征税发票：左上角没有“通行费”字样，税率栏显示“不征税”。政府还贷公路的通行费发票、储值卡的充值发票都属于这一类。\n\n"
            "一次通行如果既经过经营性路段又经过政府还贷路段，会分别得到征税和不征税两类发票。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "征税 不征税 区别 通行费字样 左上角 税率 政府还贷 不收税",
        "",
    ),
    (
        "tax",
        gettext_noop("通行费发票可以抵扣吗？税率是多少？"),
        gettext_noop(
            "只有左上角印有“通行费”字样的征税发票，才能作为增值税进项税额的抵扣凭证；不征税发票（政府还贷路段、充值发票）不能抵扣。"
            "抵扣还要求发票抬头是您单位的名称和纳税人识别号，个人抬头的发票不能抵扣。\n\n"
            "税率（征收率）由路段和通行日期决定：\n"
            "· 2016年4月30日（含）前开工的经营性高速公路：3%（简易计税）；\n"
            "· 2016年4月30日（含）前开工的经营性一级、二级公路和独立桥梁、隧道：5%（简易计税）；\n"
            "· 2016年4月30日后开工的经营性收费公路：2018年5月1日前通行为11%，之后为10%，2019年4月1日起为9%；\n"
            "· 政府还贷公路：不征税。\n\n每张发票可抵扣的税额就是票面上的税额合计。具体抵扣以主管税务机关的规定为准。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "抵扣 进项 税率 3% 5% 9% 10% 11% 可抵扣 增值税 简易计税 征收率",
        "",
    ),
    (
        "title",
        gettext_noop("发票抬头开错了怎么办？"),
        gettext_noop(
            "已开出的发票不能直接修改。票根提供“换票”：在“我的发票”中找到这笔开票申请，选择“换票”并选好正确的抬头"
            "（没有的话先在“发票抬头”中新增）。换票会把原申请的全部发票红冲，再用新抬头重新开具，新旧发票都能在申请详情中看到。\n\n"
            "换票前请确认新抬头的名称和纳税人识别号无误。申请还没有开出发票时发现抬头有误，可以联系客服处理。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "抬头 开错 写错 填错 换票 修改抬头 重开 名称错误 税号错误",
        "",
    ),
    (
        "title",
        gettext_noop("如何添加或修改发票抬头？"),
        gettext_noop(
            "在“发票抬头”页面可以保存多个抬头：个人抬头只需姓名；单位抬头需要单位名称和纳税人识别号（统一社会信用代码），"
            "地址电话、开户行及账号可以选填。每张已绑定的卡可以设一个默认抬头。\n\n"
            "修改抬头只影响之后申请的发票，已开出发票上的抬头不会跟着变；需要更正已开发票的，请使用换票。"
        ),
        "cards:titles",
        gettext_noop("发票抬头"),
        "抬头 添加 新增 修改 默认抬头 税号 纳税人识别号 单位名称",
        "",
    ),
    (
        "title",
        gettext_noop("什么是红冲（红字发票）？"),
        gettext_noop(
            "红冲是开一张金额为负数的红字发票，把一张已开出的发票冲销。红字发票与原发票的销售方相同，备注栏写明原发票的代码和号码，"
            "原发票的状态变为“已红冲”。\n\n"
            "您可以在“我的发票”中对单张发票申请红冲，换票时系统也会自动红冲原发票。一张发票只能红冲一次，红冲后不能恢复；"
            "已经报销或抵扣的发票，红冲前请先和单位财务确认。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "红冲 红字 冲销 作废 负数发票 退票 撤销",
        "",
    ),
    (
        "delivery",
        gettext_noop("怎样查验通行费电子发票的真伪？"),
        gettext_noop(
            "在票根的“发票查验”页面输入发票代码、发票号码、开票日期和校验码后6位即可查验，结果会显示发票内容以及是否已被红冲。"
            "同一张发票每天最多查验5次。也可以在国家税务总局全国增值税发票查验平台查验。"
        ),
        "verify",
        gettext_noop("发票查验"),
        "查验 真伪 真假 验真 核验 校验码 发票代码 发票号码",
        "",
    ),
    (
        "delivery",
        gettext_noop("如何下载发票，或者通过邮箱接收？"),
        gettext_noop(
            "在“我的发票”中可以逐张下载PDF版式文件，也可以按开票申请或按月份下载ZIP压缩包，"
            "压缩包里有全部发票的PDF和XML文件以及电子汇总单。\n\n"
            "申请开票时填写收票邮箱，开票完成后压缩包会发送到这个邮箱。没收到请先查看垃圾邮件，或在申请详情中重新发送。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "下载 邮箱 邮件 zip 压缩包 批量 pdf xml 重新发送 没收到邮件",
        "",
    ),
    (
        "delivery",
        gettext_noop("电子发票需要打印吗？可以报销入账吗？"),
        gettext_noop(
            "通行费电子发票与纸质发票具有同等效力，不需要打印，可以直接把PDF或XML文件交给单位财务报销、入账。"
            "是否接受电子文件由单位的财务制度决定；确实需要纸质件的，打印PDF即可。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "打印 纸质 报销 入账 财务 电子发票 效力",
        "",
    ),
    (
        "delivery",
        gettext_noop("什么是电子汇总单？"),
        gettext_noop(
            "每笔开票申请都会生成一张电子汇总单，编号16位。它列出这次申请包含的每条通行记录、每条记录开出的发票和合计金额，"
            "方便您和财务核对“为什么有这么多张发票”。汇总单包含在申请的ZIP压缩包中。"
        ),
        "invoices:list",
        gettext_noop("我的发票"),
        "汇总单 汇总 清单 对账 核对 16位",
        "",
    ),
    (
        "account",
        gettext_noop("收不到短信验证码怎么办？"),
        gettext_noop(
            "验证码短信一般几秒内到达。没有收到时请依次检查：\n"
            "1. 手机号是否填对，是否为中国大陆11位手机号；\n2. 手机是否开启了短信拦截，请在拦截记录中查看；\n"
            "3. 同一号码短时间内不能重复获取，每天获取次数也有上限，达到上限请第二天再试；\n"
            "4. 验证码几分钟内有效，输错多次后需要重新获取。\n\n"
            "绑卡时的验证码发送到办卡时在发行方预留的手机号，不是您登录用的手机号；预留手机号已停用的，请先联系发行方更新。"
            "仍然收不到，请拨打客服热线 {hotline}。"
        ),
        "accounts:login",
        gettext_noop("返回登录"),
        "短信 验证码 收不到 没收到 接收 拦截 发送 上限",
        "",
    ),
    (
        "other",
        gettext_noop("客服可以帮我处理哪些问题？怎么联系？"),
        gettext_noop(
            "票根客户联络中心提供24小时热线 {hotline}，也可以在App在线客服或本站提交工单。我们可以查询您账户的绑卡记录、通行记录和开票进度，"
            "并协助联系发行方或路段经营单位。卡片预留信息、扣费争议需要由发行方或经营单位处理，客服会转交并告诉您对方的受理编号。\n\n"
            "提交工单时附上相关的卡、通行记录、开票申请或发票，问题能更快解决。"
        ),
        "support:ticket_new",
        gettext_noop("提交工单"),
        "客服 热线 电话 人工 工单 投诉 联系 在线客服",
        "",
    ),
]


def load(apps, schema_editor):
    from support.search import index_fields

    FaqCategory = apps.get_model("support", "FaqCategory")
    Faq = apps.get_model("support", "Faq")
    SlaPolicy = apps.get_model("support", "SlaPolicy")
    categories = {}
    for code, name, description, ordering in CATEGORIES:
        categories[code], _ = FaqCategory.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "ordering": ordering}
        )
    for i, (category, question, answer, url_name, label, keywords, extra) in enumerate(FAQS):
        question_tokens, answer_tokens = index_fields(question, keywords, answer)
        Faq.objects.get_or_create(
            question=question,
            defaults={
                "category": categories[category],
                "answer": answer,
                "link_url_name": url_name,
                "link_label": label,
                "keywords": keywords,
                "extra": extra,
                "ordering": (i + 1) * 10,
                "question_tokens": question_tokens,
                "answer_tokens": answer_tokens,
            },
        )
    for category, hours in SLA_HOURS.items():
        SlaPolicy.objects.get_or_create(category=category, defaults={"hours": hours})


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
