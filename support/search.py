"""Chinese search of the FAQ: word segmentation of both the query and the FAQ text.

Chinese has no spaces, so a substring search misses a question asked in other words
("绑卡 失败 手机号 不对" against "绑卡时提示预留手机号不一致"). Both sides are cut into words
by rjieba, the Python binding of jieba-rs: jieba's dictionary and algorithm (the search mode,
which also yields the shorter words inside long ones) in maintained Rust code, so the words are
those jieba 0.42 cut and the tokens already stored stay valid. Common words are dropped and
colloquial words mapped to the product's terms; each FAQ stores its tokens wrapped in spaces,
and a query ranks FAQs by how many of its words they share (a word in the question or keywords
counts three times one in the answer). The ranking is a plain SQL expression, so it runs the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Callable

from django.db.models import Case, ExpressionWrapper, IntegerField, QuerySet, Value, When

QUESTION_WEIGHT = 3
ANSWER_WEIGHT = 1
MAX_QUERY_TOKENS = 24
MAX_QUERY_LENGTH = 200

# Words of the product that jieba's general dictionary cuts wrongly or not at all.
DOMAIN_WORDS = [
    "绑卡",
    "解绑",
    "换票",
    "红冲",
    "红字发票",
    "抬头",
    "发票抬头",
    "预留手机号",
    "预留信息",
    "证件号码",
    "身份证号",
    "通行费",
    "通行记录",
    "不征税",
    "征税",
    "储值卡",
    "记账卡",
    "用户卡",
    "ETC卡",
    "验证码",
    "汇总单",
    "查验",
    "抵扣",
    "进项",
    "政府还贷",
    "经营单位",
    "发行方",
    "按月汇总",
    "按次",
    "税率",
    "征收率",
    "充值",
    "消费",
    "单位卡",
    "企业卡",
    "联系人",
    "清分",
    "开票",
    "报销",
    "没收到",
    "收不到",
    "对不上",
    "不一致",
    "开错",
    "写错",
    "填错",
    "不对",
    "几张",
    "多张",
    "好几张",
    "好多张",
    "很多张",
]

# Colloquial words → the word the FAQ uses.
SYNONYMS = {
    "绑定": "绑卡",
    "关联": "绑卡",
    "解除": "解绑",
    "解除绑定": "解绑",
    "取消绑定": "解绑",
    "不对": "不一致",
    "不符": "不一致",
    "不匹配": "不一致",
    "对不上": "不一致",
    "手机": "手机号",
    "手机号码": "手机号",
    "电话号码": "手机号",
    "身份证": "证件号码",
    "身份证号": "证件号码",
    "证件": "证件号码",
    "证件号": "证件号码",
    "收不到": "没收到",
    "没有收到": "没收到",
    "收到": "没收到",
    "短信": "验证码",
    "行程": "通行记录",
    "出行": "通行记录",
    "记录": "通行记录",
    "过路费": "通行费",
    "高速费": "通行费",
    "路费": "通行费",
    "多张": "几张",
    "好多张": "几张",
    "张票": "几张",
    "一趟": "通行",
    "绑": "绑卡",
    "绑了": "绑卡",
    "好几张": "几张",
    "多少张": "几张",
    "很多张": "几张",
    "写错": "开错",
    "填错": "开错",
    "错了": "开错",
    "红字": "红冲",
    "作废": "红冲",
    "冲红": "红冲",
    "换开": "换票",
    "重开": "换票",
    "企业": "单位",
    "公司": "单位",
    "企业卡": "单位卡",
    "真伪": "查验",
    "真假": "查验",
    "验真": "查验",
    "核验": "查验",
    "邮件": "邮箱",
    "电子邮件": "邮箱",
    "压缩包": "zip",
    "打包": "zip",
    "批量": "zip",
    "进项税": "抵扣",
    "扣税": "抵扣",
    "免税": "不征税",
    "不收税": "不征税",
    "名称": "抬头",
    "购买方": "抬头",
}

STOPWORDS = set(
    """的 了 吗 呢 啊 吧 么 呀 哦 嘛 怎么 怎么办 怎样 怎么样 如何 什么 为什么 为何 是 在 我 我的 你 您 他 她 它
    和 与 或 及 以及 有 能 能否 可以 可否 会 要 想 请 请问 问 下 一下 这 这个 那 那个 个 就 都 也 还 被 把 给 对 不
    时 时候 后 以后 之后 前 中 里 上 到 得 地 着 过 去 来 又 再 才 很 该 应该 需要 哪 哪里 哪儿 多少 多久 几 一 没 没有
    啥 咋 呗 嗯 为 因为 所以 但是 但 而 如果 已经 已 自己 让 用 从 向 跟 等 么样 一个 一次 次 张 条""".split()
)

_PUNCT_RE = re.compile(r"^[\W_]+$", re.UNICODE)


# The frequency given to DOMAIN_WORDS: high enough that the product's words always win.
DOMAIN_WORD_FREQ = 200000


@functools.lru_cache(maxsize=1)
def _cut_for_search() -> Callable[[str], list[str]]:
    # rjieba loads jieba's dictionary when it is first imported (about 30 MB and 0.4 s), so only
    # a process that searches or indexes the FAQ pays for it; the product's words go into that
    # same dictionary, which nothing else in the project uses.
    import rjieba

    for word in DOMAIN_WORDS:
        rjieba.add_word(word, DOMAIN_WORD_FREQ, None)
    return rjieba.cut_for_search


def _normalize(text: str) -> str:
    # Full-width letters and digits to half-width, Latin letters to lower case.
    return unicodedata.normalize("NFKC", text or "").lower()


def tokenize(text: str) -> list[str]:
    """The distinct search words of ``text``, in order of appearance."""
    text = _normalize(text)[: MAX_QUERY_LENGTH * 50]
    seen: dict[str, None] = {}
    for raw in _cut_for_search()(text):
        word = raw.strip()
        if not word or _PUNCT_RE.match(word) or word in STOPWORDS:
            continue
        for token in {word, SYNONYMS.get(word, word)}:
            if token not in STOPWORDS:
                seen.setdefault(token, None)
    return list(seen)


def _wrap(tokens: list[str]) -> str:
    return f" {' '.join(tokens)} " if tokens else ""


def index_fields(question: str, keywords: str, answer: str) -> tuple[str, str]:
    """The stored token strings of an FAQ: (question + keywords, answer)."""
    return _wrap(tokenize(f"{question} {keywords}")), _wrap(tokenize(answer))


def query_tokens(query: str) -> list[str]:
    return tokenize((query or "")[:MAX_QUERY_LENGTH])[:MAX_QUERY_TOKENS]


def rank(queryset: QuerySet, query: str, *, limit: int = 10) -> list:
    """FAQs of ``queryset`` sharing words with ``query``, best first, each with ``.score``."""
    tokens = query_tokens(query)
    if not tokens:
        return []
    terms = []
    for token in tokens:
        pattern = f" {token} "
        terms.append(
            Case(When(question_tokens__contains=pattern, then=Value(QUESTION_WEIGHT)), default=Value(0))
            + Case(When(answer_tokens__contains=pattern, then=Value(ANSWER_WEIGHT)), default=Value(0))
        )
    score = functools.reduce(operator.add, terms)
    return list(
        queryset.annotate(score=ExpressionWrapper(score, output_field=IntegerField()))
        .filter(score__gt=0)
        .order_by("-score", "category__ordering", "ordering", "id")[:limit]
    )


def reindex(queryset: QuerySet) -> int:
    """Re-segments FAQs (after the dictionary changed); returns how many were saved."""
    count = 0
    for faq in queryset:
        faq.save(update_fields=["updated_at"])
        count += 1
    return count
