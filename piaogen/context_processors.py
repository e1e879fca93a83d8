from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# The navigation of the platform, in its order.
NAV = [
    ("home", _("首页")),
    ("cards:list", _("我的ETC卡")),
    ("invoices:transits", _("通行记录")),
    ("invoices:apply", _("我要开票")),
    ("invoices:list", _("我的发票")),
    ("cards:titles", _("发票抬头")),
    ("support:help", _("客服中心")),
    ("accounts:profile", _("个人中心")),
]


def site(request):
    path = request.path
    nav = []
    for name, label in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = path == url if url == "/" else path.startswith(url)
        nav.append({"url": url, "label": label, "active": active})
    return {
        "site": {
            "nav": nav,
            "hotline": settings.SUPPORT_HOTLINE,
            "demo": settings.DEMO_MODE,
        }
    }
