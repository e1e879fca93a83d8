import pytest
from django.urls import NoReverseMatch, reverse

from support import search, selectors
from support.models import Category, Faq, FaqCategory

pytestmark = pytest.mark.django_db


def test_the_help_centre_ships_a_written_faq_in_every_category():
    faqs = list(Faq.objects.filter(published=True).select_related("category"))
    assert 15 <= len(faqs) <= 30
    assert {f.category.code for f in faqs} == set(Category.values)
    assert all(f.question_tokens.startswith(" ") and f.answer_tokens for f in faqs)
    # Every answer names the page that solves it; pages not built yet simply show no link.
    for faq in faqs:
        assert faq.link_url_name and faq.link_label
        try:
            expected = reverse(faq.link_url_name)
        except NoReverseMatch:
            expected = ""
        assert selectors.faq_link(faq) == expected


@pytest.mark.parametrize(
    "topic",
    [
        "预留手机号",
        "证件号码",
        "第{days}个自然日",
        "一张发票",
        "/verify/|发票查验",
        "解绑",
        "不征税",
        "3%",
        "换票",
        "充值发票",
        "红冲",
        "验证码",
        "联系人手机号",
        "按月汇总",
        "ZIP",
    ],
)
def test_the_faq_covers_what_callers_ask(topic):
    text = " ".join(f"{f.question} {f.answer} {f.link_label}" for f in Faq.objects.all())
    assert any(alternative in text for alternative in topic.split("|")), topic


def test_words_in_another_order_find_the_reserved_mobile_answer():
    query = "绑卡 失败 手机号 不对"
    assert not Faq.objects.filter(question__icontains=query).exists()
    assert not Faq.objects.filter(answer__icontains=query).exists()
    results = selectors.faq_search(query)
    assert results and "预留手机号不一致" in results[0].question
    assert results[0].score > results[1].score


@pytest.mark.parametrize(
    "query, expected",
    [
        ("身份证号对不上", "证件号码不一致"),
        ("一趟高速开了好多张票", "好几张发票"),
        ("怎么解除绑定", "解绑"),
        ("抬头写错了", "抬头开错"),
        ("收不到短信", "短信验证码"),
        ("过了好几天还看不到行程", "多久能查到"),
    ],
)
def test_colloquial_questions_find_their_answer_first(query, expected):
    assert expected in selectors.faq_search(query)[0].question


def test_nothing_in_common_finds_nothing_and_odd_input_does_not_break():
    assert selectors.faq_search("") == []
    assert selectors.faq_search("？？？ ！！ ...") == []
    assert selectors.faq_search("%_'; -- ==") == []
    assert isinstance(selectors.faq_search("绑卡" * 500), list)


def test_editing_an_answer_re_segments_it():
    faq = Faq.objects.get(question__contains="汇总单")
    assert not selectors.faq_search("骆驼")
    faq.keywords += " 骆驼"
    faq.save()
    assert [f.pk for f in selectors.faq_search("骆驼")] == [faq.pk]
    faq.published = False
    faq.save()
    assert all(f.pk != faq.pk for f in selectors.faq_search("汇总单"))


def test_tokenizer_maps_colloquial_words_and_drops_filler():
    tokens = search.tokenize("请问一下，绑定的时候手机号不对怎么办？")
    assert {"绑卡", "手机号", "不一致"} <= set(tokens)
    assert not {"请问", "怎么办", "，", "？"} & set(tokens)


def test_the_products_words_stay_whole():
    # jieba's general dictionary alone cuts this into 绑卡时 / 不 / 一致, without 预留手机号.
    tokens = search.tokenize("绑卡时提示预留手机号不一致")
    assert {"绑卡", "预留手机号", "不一致"} <= set(tokens)
    assert "绑卡时" not in tokens


def test_help_pages(client):
    r = client.get(reverse("support:help"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "预留手机号不一致" in body and reverse("support:diagnose") in body
    r = client.get(reverse("support:category", args=["tax"]))
    assert r.status_code == 200 and "可以抵扣" in r.content.decode()
    assert client.get(reverse("support:category", args=["nope"])).status_code == 404


def test_answer_page_shows_issuer_hotlines_from_the_issuer_table_and_the_solving_page(client):
    faq = Faq.objects.get(question__contains="预留手机号不一致")
    body = client.get(reverse("support:faq", args=[faq.pk])).content.decode()
    assert "广东粤通卡" in body and "96533（演示）" in body and "江苏苏通卡" in body
    assert f'href="{reverse("cards:list")}"' in body
    assert "{days}" not in body


def test_answer_page_fills_in_the_settings(client, settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 7
    settings.SUPPORT_HOTLINE = "95022-9"
    faq = Faq.objects.get(question__contains="多久能查到")
    body = client.get(reverse("support:faq", args=[faq.pk])).content.decode()
    assert "第7个自然日" in body and "{days}" not in body
    faq = Faq.objects.get(question__contains="短信验证码")
    assert "95022-9" in client.get(reverse("support:faq", args=[faq.pk])).content.decode()


def test_an_answer_whose_page_does_not_exist_shows_no_link(client):
    faq = Faq.objects.create(
        category=FaqCategory.objects.get(code="other"),
        question="测试问题",
        answer="测试解答",
        link_url_name="nowhere:page",
        link_label="不存在的页面",
    )
    r = client.get(reverse("support:faq", args=[faq.pk]))
    assert r.status_code == 200 and "不存在的页面" not in r.content.decode()


def test_unpublished_and_unknown_answers_are_404(client):
    faq = Faq.objects.first()
    faq.published = False
    faq.save()
    assert client.get(reverse("support:faq", args=[faq.pk])).status_code == 404
    assert client.get("/help/faq/999999999/").status_code == 404


def test_search_page(client):
    r = client.get(reverse("support:search"), {"q": "绑卡 失败 手机号 不对"})
    assert r.status_code == 200
    assert "预留手机号不一致" in r.content.decode()
    r = client.get(reverse("support:search"), {"q": "火星旅游签证"})
    assert r.status_code == 200 and "没有找到" in r.content.decode()
    assert client.get(reverse("support:search"), {"q": "x" * 5000}).status_code == 200


# --- the kinds of toll document (docs/regimes.md) ------------------------------------------------


@pytest.mark.parametrize(
    "question, words",
    [
        ("通行费财政电子票据", ["政府还贷", "不是增值税发票", "8位票据代码", "10位票据号码", "不能作为进项税额抵扣"]),
        ("数电发票", ["20位", "没有发票代码、校验码", "价税合计", "红字确认单"]),
        ("可以抵扣吗", ["单位", "个人抬头的发票不能抵扣", "通行费财政电子票据（政府还贷路段）", "不征税发票"]),
        ("查验", ["校验码后6位", "20位发票号码、开票日期和价税合计", "票据代码、票据号码"]),
        ("多久能查到", ["第7个自然日", "第10个自然日"]),
        ("电子汇总单", ["充值交易不开具电子汇总单"]),
        ("抬头开错", ["通行费财政电子票据不能换开", "通行前", "默认抬头"]),
    ],
)
def test_the_answers_cover_every_kind_of_document(question, words):
    faq = Faq.objects.get(question__contains=question, published=True)
    for word in words:
        assert word in faq.answer, (question, word)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("财政票据是什么", "通行费财政电子票据"),
        ("为什么收到的是财政电子票据不是发票", "通行费财政电子票据"),
        ("数电发票没有校验码", "数电发票"),
        ("个人抬头能抵扣吗", "可以抵扣"),
        ("充值没有汇总单", "电子汇总单"),
        ("财政票据能换票吗", "抬头开错"),
    ],
)
def test_questions_about_the_kinds_find_their_answer_first(query, expected):
    assert expected in selectors.faq_search(query)[0].question


@pytest.mark.regimes
def test_the_days_in_an_answer_are_those_of_the_regime_in_force_today(client, settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 10
    faq = Faq.objects.get(question__contains="多久能查到")
    body = client.get(reverse("support:faq", args=[faq.pk])).content.decode()
    assert "请在通行后的第7个自然日起查询" in body and "第 7 个自然日起可查" in body


def test_an_answer_edited_by_staff_is_not_overwritten_by_the_update():
    import importlib

    from django.apps import apps as django_apps

    update = importlib.import_module("support.migrations.0008_faq_document_kinds")
    faq = Faq.objects.get(question="什么是电子汇总单？")
    faq.answer = "工作人员改写的解答"
    faq.save()
    fresh = Faq.objects.get(question="发票抬头开错了怎么办？")
    fresh.answer = update.SHIPPED[fresh.question]
    fresh.save()
    update.load(django_apps, None)
    assert Faq.objects.get(pk=faq.pk).answer == "工作人员改写的解答"
    assert "通行费财政电子票据不能换开" in Faq.objects.get(pk=fresh.pk).answer
    assert Faq.objects.filter(question__contains="数电发票").count() == 1  # added once
