"""What a question asks, read from its words: the kind of answer it expects (a number, a date, a
person, a place), the question word and the words beside it, its own numbers, and the amounts and
bounds ("2000 元及以上", "up to 3,000 yuan") a passage states for them. Used by the evidence score
(``zhiku.evidence``) and the extractive answerer; patterns only, no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import CJK_RE

# Arabic numbers (3, 3.5, 1,313,851, 90%) with an optional Chinese magnitude, or Chinese numerals.
NUMBER_RE = re.compile(
    r"(?<![第\d.])\d+(?:[.,]\d+)*\s*(?:%|万|亿|千|百)?(?![\d年月日号时届期])"
    r"|(?<!第)[零两二三四五六七八九十百千万亿][零一二两三四五六七八九十百千万亿]*"
    r"(?=[个名人位次天条项家座只件倍%元块层楼岁周份张台辆本]|小时|分钟|公里|公斤|平方米)"
    # written in English words: "every four years", "ten days", "one week", "twice a year"
    r"|(?i:\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|sixty|hundred|thousand|dozen)\b(?=[ -][a-z])"
    r"|\bone(?= (?:hour|day|week|month|year|working|business)s?\b)|\b(?:once|twice)(?= (?:a|per|every)\b))"
)
DATE_RE = re.compile(
    r"\d{4}\s*年(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*月\s*\d{1,2}\s*[日号]?|\d{1,2}\s*月(?:份|初|底|中旬|下旬|上旬)?"
    r"|\d{1,2}\s*[日号]|[正腊农]月[初十廿]|[初廿][一二三四五六七八九十]|除夕|(?<!\d)(?:1[89]|20)\d{2}(?!\d)"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d{0,2}\b|周[一二三四五六日]|星期[一二三四五六日天]"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\d{1,2}:\d{2}|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}"
    r"|\b\d{1,2}(?:st|nd|rd|th)\b"
    # written in Chinese numerals: 十月二十日, 十一月十五日, 二〇二四年
    r"|(?<![一二三四五六七八九十每])(?:十[一二]?|[一二三四五六七八九])月(?:[一二三四五六七八九十廿卅]{1,3}[日号])?"
    r"|[〇零一二三四五六七八九]{4}年"
    # a week or a quarter: "in week 12", "Q3", "第12周", "第三季度", "下半年"
    r"|\bweek\s+\d{1,2}\b|\bQ[1-4]\b|\b(?:first|second|third|fourth|last) quarter\b"
    r"|第\s*[\d一二三四五六七八九十]{1,3}\s*周|第?[一二三四1-4]季度|[上下]半年",
    re.IGNORECASE,
)
# Where something is in a building or on a site, which jieba does not tag as a place: 地下二层, 3 楼,
# B 座, "on basement level 2", "room 301".
PLACE_RE = re.compile(
    r"(?:地下|地上)?[一二三四五六七八九十\d]+\s*(?:层|楼)(?!梯)|[A-Z\d]+\s*(?:座|栋|号楼|室|会议室)"
    r"|\b(?:on|at|in)\s+(?:the\s+)?(?:(?:basement|ground|top|first|second|third|fourth|fifth|\d+(?:st|nd|rd|th))\s+)?"
    r"(?:level|floor|basement)(?:\s+[A-Z]?\d+)?\b"
    r"|\b(?:room|building|floor|level|suite|gate|hall|block)\s+[A-Z]?\d+[A-Z]?\b",
    re.IGNORECASE,
)
ASKS = {
    # A named thing ("票房冠军", "最佳影片", "哪部电影") even when the question also says 票房 or 年.
    "entity": re.compile(
        r"冠军|得主|获得者|最佳|哪部|哪个队|哪支|哪家|哪款|什么类型|什么名字|叫什么|新手机|型号|"
        r"\bwhich (?:team|company|film|movie)\b",
        re.I,
    ),
    "number": re.compile(
        r"多少|多长|多久|几[个天年月次人名位家条项倍]|几(?!点|时)|数量|人数|数目|总数|[^\w]?数[？?]?$|产量|销量|交付量|票房|营收|收入|利润|"
        r"金额|价格|得分|比分|比例|增长率|震级|\bhow (?:many|much|long|old|far|big|tall|quickly|soon|fast|often)\b|"
        r"\bwhat (?:percentage|share|number|amount)\b|\bnumber of\b",
        re.I,
    ),
    "date": re.compile(
        r"何时|什么时候|时间|哪一?年|哪一?天|几月|几号|几点|几时|日期|\bwhen\b"
        r"|\b(?:what|which) (?:year|date|day|time|month)\b"
        r"|\bwhat(?:'s| is| was| will be) the (?:[a-z]+ )?(?:date|year|day)\b",
        re.I,
    ),
    "person": re.compile(r"谁|哪位|什么人|\bwho\b|\bwhom\b", re.I),
    "place": re.compile(r"哪里|哪儿|在哪|何地|地点|国家|城市|\bwhere\b|\bwhich (?:city|country)\b", re.I),
}
# The question word, to find the "head" the answer fills ("多少个[议席]", "[总导演]是谁", "how many [days]").
WH_RE = re.compile(
    r"是多少|多少|是什么时候|什么时候|何时|是谁|谁|哪[里儿位个些部家支款种年天]|是什么|什么|如何|几|"
    r"的?(?:时间|日期|人数|数量)$"
    r"|\b(?:how (?:many|much|long|old|quickly|soon|fast|often)|when|who|whom|where|which|what)\b",
    re.I,
)
# How the question asks, not what about: no word of a passage in the other language stands for it
# ("多久" matched "long" in "12 characters long"). Bridging skips these (``EvidenceScorer.score``).
FRAME_RE = re.compile(r"多久|多长(?:时间)?|多大|多远|多高|多重|多快|多早|多晚|多少|几|什么时候|何时|哪[里儿]|是谁")


def frame_terms(question: str, terms: Sequence[str]) -> frozenset[str]:
    """The Chinese ``terms`` written only inside the question's frame words (``FRAME_RE``): jieba cuts
    多大 into 多 and 大, and neither says what the question is about."""
    spans = [m.span() for m in FRAME_RE.finditer(question)]
    if not spans:
        return frozenset()

    def framed(term: str) -> bool:
        places = [m.start() for m in re.finditer(re.escape(term), question)]
        return bool(places) and all(any(a <= p and p + len(term) <= b for a, b in spans) for p in places)

    return frozenset(t for t in terms if CJK_RE.search(t) and framed(t))


def head_text(question: str) -> str:
    """The words next to the question word: what the answer is (议席 in "有多少个议席", 导演 in "总导演是谁")."""
    question = question.strip().rstrip("?？。.!！ ")
    m = WH_RE.search(question)
    if m is None:  # a bare noun phrase ("2022年特斯拉交付量"): its last words
        return question[-4:] if CJK_RE.search(question) else " ".join(question.split()[-2:])
    if CJK_RE.search(question):
        after = question[m.end() : m.end() + 4].lstrip("个位名部家项些种")
        return after if len(after) >= 2 else question[max(0, m.start() - 4) : m.start()]
    after_words = question[m.end() :].split()[:3]
    return " ".join(after_words) if after_words else " ".join(question[: m.start()].split()[-2:])


def answer_type(question: str) -> str:
    """``number``, ``date``, ``person``, ``place`` or ``other``: what kind of answer is expected."""
    for kind, regex in ASKS.items():
        if regex.search(question):
            return kind
    return "other"


def numbers(text: str) -> set[str]:
    return {norm_number(m.group()) for m in re.finditer(r"\d+(?:[.,]\d+)*", text)} | {
        m.group() for m in re.finditer(r"第[零一二两三四五六七八九十百]+[届次期轮]", text)
    }


_NUM = r"(\d+(?:[.,]\d+)*)"
# Stated bounds: "2000 元及以上", "超过 5 天", "under 2,000 yuan", "2,000 yuan or more" (value, comparison).
_BOUND_AFTER_RE = re.compile(_NUM + r"\s*[^\d\s，。；;,]{0,4}?\s*(及以上|或以上|以上|及以下|或以下|以下|以内|之内)")
_BOUND_BEFORE_RE = re.compile(
    r"(超过|多于|大于|高于|不少于|至少|不低于|不超过|不多于|少于|低于|不足|满|more than|over|above|exceeding|"
    r"at least|no less than|under|less than|below|up to|at most|no more than)\s*(?:[$¥€£]|[A-Z]{3}\s)?\s*" + _NUM,
    re.I,
)
_BOUND_EN_AFTER_RE = re.compile(
    _NUM + r"\s*(?:[a-z]+\s+)?(or more|or above|and above|and over|or over|or less|or below|and below|or under)\b", re.I
)
_AT_LEAST = {
    "及以上",
    "或以上",
    "以上",
    "不少于",
    "至少",
    "不低于",
    "满",
    "at least",
    "no less than",
    "or more",
    "or above",
    "and above",
    "and over",
    "or over",
}
_MORE = {"超过", "多于", "大于", "高于", "more than", "over", "above", "exceeding"}
_AT_MOST = {
    "及以下",
    "或以下",
    "以下",
    "以内",
    "之内",
    "不超过",
    "不多于",
    "up to",
    "at most",
    "no more than",
    "or less",
    "or below",
    "and below",
}


def bounds(text: str) -> list[tuple[float, str]]:
    """The numeric bounds ``text`` states, as (value, ">=" | ">" | "<=" | "<")."""
    found = [(m.group(1), m.group(2)) for m in _BOUND_AFTER_RE.finditer(text)]
    found += [(m.group(2), m.group(1)) for m in _BOUND_BEFORE_RE.finditer(text)]
    found += [(m.group(1), m.group(2)) for m in _BOUND_EN_AFTER_RE.finditer(text)]
    out = []
    for value, word in found:
        word = word.lower()
        op = ">=" if word in _AT_LEAST else ">" if word in _MORE else "<=" if word in _AT_MOST else "<"
        try:
            out.append((float(norm_number(value)), op))
        except ValueError:  # "1.2.3 以上" is a version, not an amount
            continue
    return out


def amount(number: str) -> float | None:
    """The value of a question's ``number`` when it is an amount: not a year ("2008年" is not in
    "2000年以后") and not an ordinal such as "第三届"."""
    if re.fullmatch(r"(?:1[89]|20)\d{2}", number):
        return None
    try:
        return float(number)
    except ValueError:
        return None


def within(number: str, bounds: list[tuple[float, str]]) -> bool:
    """Does the amount ``number`` fall within one of the ``bounds`` a passage states? ("5000元的报销"
    against "2000 元及以上的报销")."""
    value = amount(number)
    if value is None:
        return False
    checks = {">=": value.__ge__, ">": value.__gt__, "<=": value.__le__, "<": value.__lt__}
    return any(checks[op](bound) for bound, op in bounds)


def norm_number(value: str) -> str:
    return value.replace(",", "")
