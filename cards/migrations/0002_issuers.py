"""The issuers of the 29 mainland provinces with toll roads, and the national road-network centre.

Demo configuration, editable in the console. Network code = province code + "01": 1101 Beijing,
5201 Guizhou, 6101 Shaanxi and 9901 (the national centre) are seen on real cards; the rest follow
that pattern unconfirmed. Only the hotlines of 广东粤通卡 (96533) and 江苏苏通卡 (96777) are
confirmed; the others are placeholders of the form 000-NNNN that no telephone number can have.
Every row is flagged is_demo, so pages print "（演示）" after the hotline.
"""

from django.db import migrations
from django.utils.translation import gettext_noop

# code, province code, province, brand, name, hotline (None: a demo placeholder). Province names
# are marked (gettext_noop): English pages show them from locale/en.
ISSUERS = [
    ("beijing", "11", gettext_noop("北京"), "速通卡", "北京速通卡", None),
    ("tianjin", "12", gettext_noop("天津"), "津通卡", "天津津通卡", None),
    ("hebei", "13", gettext_noop("河北"), "冀通卡", "河北冀通卡", None),
    ("shanxi", "14", gettext_noop("山西"), "快通卡", "山西快通卡", None),
    ("neimenggu", "15", gettext_noop("内蒙古"), "蒙通卡", "内蒙古蒙通卡", None),
    ("liaoning", "21", gettext_noop("辽宁"), "辽通卡", "辽宁辽通卡", None),
    ("jilin", "22", gettext_noop("吉林"), "吉通卡", "吉林吉通卡", None),
    ("heilongjiang", "23", gettext_noop("黑龙江"), "龙通卡", "黑龙江龙通卡", None),
    ("shanghai", "31", gettext_noop("上海"), "沪通卡", "上海沪通卡", None),
    ("jiangsu", "32", gettext_noop("江苏"), "苏通卡", "江苏苏通卡", "96777"),
    ("zhejiang", "33", gettext_noop("浙江"), "浙通卡", "浙江浙通卡", None),
    ("anhui", "34", gettext_noop("安徽"), "皖通卡", "安徽皖通卡", None),
    ("fujian", "35", gettext_noop("福建"), "闽通卡", "福建闽通卡", None),
    ("jiangxi", "36", gettext_noop("江西"), "赣通卡", "江西赣通卡", None),
    ("shandong", "37", gettext_noop("山东"), "鲁通卡", "山东鲁通卡", None),
    ("henan", "41", gettext_noop("河南"), "中原通", "河南中原通", None),
    ("hubei", "42", gettext_noop("湖北"), "鄂通卡", "湖北鄂通卡", None),
    ("hunan", "43", gettext_noop("湖南"), "湘通卡", "湖南湘通卡", None),
    ("guangdong", "44", gettext_noop("广东"), "粤通卡", "广东粤通卡", "96533"),
    ("guangxi", "45", gettext_noop("广西"), "八桂行卡", "广西八桂行卡", None),
    ("chongqing", "50", gettext_noop("重庆"), "渝通卡", "重庆渝通卡", None),
    ("sichuan", "51", gettext_noop("四川"), "蜀通卡", "四川蜀通卡", None),
    ("guizhou", "52", gettext_noop("贵州"), "黔通卡", "贵州黔通卡", None),
    ("yunnan", "53", gettext_noop("云南"), "云通卡", "云南云通卡", None),
    ("shaanxi", "61", gettext_noop("陕西"), "三秦通", "陕西三秦通", None),
    ("gansu", "62", gettext_noop("甘肃"), "陇通卡", "甘肃陇通卡", None),
    ("qinghai", "63", gettext_noop("青海"), "青通卡", "青海青通卡", None),
    ("ningxia", "64", gettext_noop("宁夏"), "宁通卡", "宁夏宁通卡", None),
    ("xinjiang", "65", gettext_noop("新疆"), "新通卡", "新疆新通卡", None),
    ("national", "99", gettext_noop("全国"), "联网卡", "全国路网中心联网卡", None),
]


def load(apps, schema_editor):
    Issuer = apps.get_model("cards", "Issuer")
    IssuerNetworkCode = apps.get_model("cards", "IssuerNetworkCode")
    for code, province_code, province, brand, name, hotline in ISSUERS:
        network_code = f"{province_code}01"
        issuer, _ = Issuer.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "brand": brand,
                "province": province,
                "province_code": province_code,
                "hotline": hotline or f"000-{network_code}",
                "is_demo": True,
            },
        )
        IssuerNetworkCode.objects.get_or_create(code=network_code, defaults={"issuer": issuer})


def unload(apps, schema_editor):
    Issuer = apps.get_model("cards", "Issuer")
    IssuerNetworkCode = apps.get_model("cards", "IssuerNetworkCode")
    codes = [row[0] for row in ISSUERS]
    issuers = Issuer.objects.filter(code__in=codes, cards__isnull=True)
    IssuerNetworkCode.objects.filter(issuer__in=issuers).delete()
    issuers.delete()


class Migration(migrations.Migration):
    dependencies = [("cards", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
