"""Answerer: refusal, extractive answers, citation numbering, verification (zhiku/answer.py)."""

from __future__ import annotations

import pytest

from zhiku.answer import OTHER_LANGUAGE_NOTES, Answerer
from zhiku.text import Analyzer
from zhiku.types import Hit, Locator


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer(Analyzer(), refusal_threshold=0.5)


def hits(*texts: str) -> list[Hit]:
    return [Hit(i + 10, i, 1.0 - 0.1 * i, t, Locator(), path=f"doc{i}.md") for i, t in enumerate(texts)]


HANDBOOK = hits(
    "Annual leave",
    "Leave requests must be submitted through the HR portal and approved by your manager.",
    "New hires get 15 days of annual leave per year, rising to 20 days after five years.",
)


def test_extractive_picks_the_answer_sentence_not_the_heading(answerer: Answerer) -> None:
    answer = answerer.answer("How many days of annual leave do new hires get?", HANDBOOK)
    assert not answer.refused
    assert answer.text.startswith("New hires get 15 days")
    assert "[1]" in answer.text
    assert answer.citations[0].n == 1 and answer.citations[0].chunk_id == HANDBOOK[2].chunk_id
    assert "Annual leave [" not in answer.text


def test_refuses_in_the_question_language(answerer: Answerer) -> None:
    en = answerer.answer("What is the capital of France?", HANDBOOK)
    assert en.refused and en.text.startswith("The knowledge base does not contain")
    zh = answerer.answer("法国的首都是哪里？", HANDBOOK)
    assert zh.refused and zh.text.startswith("知识库中没有找到")
    # A refusal lists where zhiku looked: the nearest sources, numbered, cited by nothing.
    assert [c.chunk_id for c in en.related] == [h.chunk_id for h in HANDBOOK[:3]]
    assert [c.n for c in en.related] == [1, 2, 3] and en.citations == []
    assert en.to_dict()["related"][0]["path"] == HANDBOOK[0].path
    answered = answerer.answer("How many days of annual leave do new hires get?", HANDBOOK)
    assert answered.related == [] and answered.to_dict()["related"] == []
    assert answerer.answer("What is the capital of France?", []).related == []


def test_chinese_extractive_answer(answerer: Answerer) -> None:
    sources = hits(
        "年假制度",
        "员工申请年假须提前两周在人事系统提交。",
        "新员工入职后每年享有10天带薪年假，工作满五年后增加到15天。",
    )
    answer = answerer.answer("新员工每年有多少天年假？", sources)
    assert not answer.refused
    assert "10天" in answer.text.split("[")[0]


def test_quotes_in_the_other_language_come_with_a_note_in_the_question_s(answerer: Answerer) -> None:
    # Same language: no note.
    assert answerer.answer("How many days of annual leave do new hires get?", HANDBOOK).notes == []
    # Across languages the extractive answer quotes the English source as written and says so in
    # Chinese. (The word bridge is off here; a threshold of 0 lets the answer through.)
    across = Answerer(Analyzer(), refusal_threshold=0.0)
    answer = across.answer("新员工有几天年假？", HANDBOOK)
    assert not answer.refused and "15 days" in answer.text
    assert answer.notes == [OTHER_LANGUAGE_NOTES["zh"]] and "英文" in answer.notes[0]
    assert answer.to_dict()["notes"] == answer.notes
    chinese = hits("新员工入职后每年享有10天带薪年假。")
    assert across.answer("How many days of leave do new hires get?", chinese).notes == [OTHER_LANGUAGE_NOTES["en"]]
    # A refusal quotes nothing.
    assert answerer.answer("法国的首都是哪里？", HANDBOOK).notes == []


def test_citations_numbered_in_order_of_first_use() -> None:
    answerer = Answerer(Analyzer(), refusal_threshold=0.0, extract_sentences=3)
    sources = hits(
        "The office opens at 8:00 on weekdays.",
        "New hires get 15 days of annual leave per year.",
        "New hires also get 5 days of paid sick leave per year.",
    )
    answer = answerer.answer("How many days of leave do new hires get per year?", sources)
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    first = answer.text.index("[1]")
    for c in answer.citations[1:]:
        assert answer.text.index(f"[{c.n}]") > first


def test_verify_marks_an_unsupported_sentence(answerer: Answerer) -> None:
    text = (
        "New hires get 15 days of annual leave per year [3]. Employees also receive a company car and 40 days off [3]."
    )
    checks = answerer.verify(text, HANDBOOK)
    assert checks[0].supported and checks[0].citations == [3]
    assert not checks[1].supported


def test_verify_gives_a_marker_after_the_full_stop_to_its_own_sentence(answerer: Answerer) -> None:
    # The extractive answer writes "sentence. [n] Next sentence. [m]": each marker opens the next span
    # but belongs to the sentence before it, or a quote from [2] is checked against [1] alone.
    sources = hits(
        "Lock your screen whenever you leave your desk.",
        "The IT helpdesk is open Monday to Friday, 8:30 to 18:30. Call extension 8000.",
    )
    text = (
        "Lock your screen whenever you leave your desk. [1] "
        "The IT helpdesk is open Monday to Friday, 8:30 to 18:30. [2] Call extension 8000. [2]"
    )
    checks = answerer.verify(text, sources)
    assert [c.citations for c in checks] == [[1], [2], [2]]
    assert all(c.supported and c.support == 1.0 for c in checks)
    # Chinese full stops and markers written before the stop work the same way.
    zh = hits("年假需提前五个工作日申请。", "报销须在三十天内提交。")
    checks = answerer.verify("年假需提前五个工作日申请。[1] 报销须在三十天内提交[2]。", zh)
    assert [c.citations for c in checks] == [[1], [2]] and all(c.supported for c in checks)


def test_verify_flags_a_number_the_source_does_not_state(answerer: Answerer) -> None:
    checks = answerer.verify("New hires get 25 days of annual leave per year [3].", HANDBOOK)
    assert not checks[0].supported


def test_definition_lead_answers_identity_questions(answerer: Answerer) -> None:
    # The attribute asked ("籍贯") is not a word of the passage: the opening definition holds it.
    sources = hits(
        "王天成，中国湖南省双牌县人，政治学者。王天成1992年10月被捕，1994年被判处有期徒刑5年。"
        "王天成1999年所著文章《论共和国》流传甚广。2005年11月，王天成发表文章指控他人抄袭。"
    )
    answer = answerer.answer("王天成的籍贯是哪里？", sources)
    assert not answer.refused
    assert "湖南省双牌县" in answer.text


def test_focus_weights_the_asked_aspect_over_the_topic(answerer: Answerer) -> None:
    # "蓝纹鹦鱼" is named in every sentence, so it does not tell them apart; only one speaks of food.
    # By question-wide IDF the fish's rare name outweighs 食物; by focus the food sentence wins.
    sources = hits(
        "蓝纹鹦鱼是隆头鱼科的一个种。蓝纹鹦鱼体长可达40厘米。蓝纹鹦鱼以藻类为食物。"
        "蓝纹鹦鱼的幼鱼常成群活动。蓝纹鹦鱼分布于印度洋。"
    )
    question = "蓝纹鹦鱼的食物是什么？"
    evidence = answerer.scorer.score(question, sources)
    answerer._add_focus(question, sources, evidence)
    by_focus = max(evidence.best, key=lambda s: s.features["focus"])
    assert "藻类" in sources[0].text[by_focus.start : by_focus.end]
    others = [s.features["focus"] for s in evidence.best if s is not by_focus]
    assert by_focus.features["focus"] > 2 * max(others)


def test_context_sentences_stay_in_the_answer_s_paragraph(answerer: Answerer) -> None:
    # A figure caption is the previous "sentence" of the chunk but another block: not context.
    sources = hits(
        "Feeding\n\nMallard duckling preening\n\n"
        "Ducks eat grasses, aquatic plants, fish, insects and worms. They feed mostly at dawn and dusk."
        "\n\nSee also: list of duck breeds"
    )
    answer = answerer.answer("What do ducks eat?", sources)
    assert answer.text == (
        "Ducks eat grasses, aquatic plants, fish, insects and worms. [1] They feed mostly at dawn and dusk. [1]"
    )


def test_a_list_item_is_answered_alone_and_past_forms_meet_their_verb(answerer: Answerer) -> None:
    # "lose" meets "lost" (irregular past forms go back to their verb), "happen" is only the question's
    # frame, and a list item's neighbours are other items, not context.
    security = hits(
        "IT security\n\n"
        "- Lock your screen whenever you leave your desk; laptops lock automatically after 5 minutes.\n"
        "- Report a lost or stolen laptop to the IT helpdesk (extension 8000) within 1 hour.\n"
        "- Never paste customer data into external AI tools."
    )
    answer = answerer.answer("What happens if I lose my laptop?", security)
    assert answer.text == "- Report a lost or stolen laptop to the IT helpdesk (extension 8000) within 1 hour. [1]"
    steps = answerer.answer("How do I report a stolen laptop?", security)  # a procedure: the whole list
    assert steps.text.startswith("- Lock your screen") and steps.text.endswith("external AI tools. [1]")


def faq(*sections: tuple[str, str]) -> list[Hit]:
    """Hits for FAQ sections: (heading, body), the heading first in the chunk's text, as chunkers write it."""
    return [
        Hit(i + 10, i, 1.0 - 0.1 * i, f"{head}\n\n{body}", Locator(heading_path=["IT FAQ", head]), path="faq.html")
        for i, (head, body) in enumerate(sections)
    ]


def test_a_heading_that_asks_the_question_is_answered_by_its_first_sentence(answerer: Answerer) -> None:
    # "Laptops are replaced every 3 years." shares one word with the question; the heading above it
    # asks the question itself. Its last sentence above the table is not the table's title either.
    sources = faq(
        (
            "When will I get a new laptop?",
            "Laptops are replaced every 3 years. Engineers can choose between these models:\n\n"
            "| Role | Standard laptop |\n| --- | --- |\n| Engineering | ThinkPad X1 Carbon |",
        ),
        ("How do I connect to the office Wi-Fi?", "Join the network Lanting-Staff with your account."),
    )
    answer = answerer.answer("When will I get a new laptop?", sources)
    assert answer.text.startswith("Laptops are replaced every 3 years. [1]")
    assert answer.evidence >= 0.9 and not answer.refused
    # worded differently, the same question still matches the heading ("forgot" meets "forgot")
    password = faq(
        ("IT security", "Use the password manager and turn on two-factor authentication for your password."),
        ("I forgot my password. What now?", "Reset it yourself at password.example using your phone."),
    )
    reset = answerer.answer("I forgot my password, what should I do?", password)
    assert reset.text == "Reset it yourself at password.example using your phone. [1]"
    # no sentence of the heading is an answer either ("I forgot my password." was quoted)
    how = answerer.answer("How do I reset my password?", password)
    assert how.text == "Reset it yourself at password.example using your phone. [1]", how.text
    # a heading that asks something else does not count
    other = answerer.answer("When will I get a new phone?", sources)
    assert other.refused


def test_only_the_last_sentence_above_a_table_is_its_title(answerer: Answerer) -> None:
    text = (
        "Laptops are replaced every 3 years. Engineers can choose between these models:\n\n"
        "| Role | Standard laptop |\n| --- | --- |\n| Engineering | ThinkPad X1 Carbon |\n| Design | MacBook Pro 14 |"
    )
    answer = answerer.answer("How often are laptops replaced?", hits(text))
    assert answer.text.startswith("Laptops are replaced every 3 years. [1]")


REMOTE_WORK = (
    "Remote work\n\n"
    "Employees may work remotely up to 2 days per week after completing their probation period of 3 months. "
    "Tuesday is the company-wide office day, when everyone comes in. "
    "Tell your team in the #where-am-i channel by 9:30 on the day you work from home."
)


def test_english_neighbours_are_context_only_when_the_sentences_are_tied(answerer: Answerer) -> None:
    # English names its subject in every sentence: the neighbours of "Tuesday is ..." are other rules.
    answer = answerer.answer("Which day must everyone be in the office?", hits(REMOTE_WORK))
    assert answer.text == "Tuesday is the company-wide office day, when everyone comes in. [1]"
    # A sentence opening with a pronoun leans on the one before it, which comes along; the next
    # sentence is another rule and stays out.
    travel = hits(
        "Travel\n\nBusiness trips are booked through the travel desk. They must be approved by your manager "
        "at least 7 days before departure. Hotels are paid directly by the company."
    )
    both = (
        "Business trips are booked through the travel desk. [1] "
        "They must be approved by your manager at least 7 days before departure. [1]"
    )
    assert answerer.answer("How many days before departure must business trips be approved?", travel).text == both
    # The pronoun's sentence is the evidence too: "they" are the business trips of the sentence before.
    assert answerer.answer("Who approves business trips?", travel).text == both
    payroll = hits("Payroll\n\nSalaries are paid by bank transfer. They arrive on the 15th of every month.")
    assert answerer.answer("When do salaries arrive?", payroll).text == (
        "Salaries are paid by bank transfer. [1] They arrive on the 15th of every month. [1]"
    )


EXPENSES = (
    "Expenses\n\n"
    "Submit expense claims in Lanting Hub within 30 days of spending the money, with a photo of every receipt. "
    "Claims under 2,000 yuan are approved by your manager; claims of 2,000 yuan or more also need approval "
    "from Finance (finance@lanting.example). Approved claims are paid with the next monthly salary, on the "
    "15th of the month.\n\n"
    "- Team meals: up to 150 yuan per person, once per quarter.\n"
    "- Books and online courses: up to 3,000 yuan per year.\n"
    "- Taxis are reimbursed after 22:00 or when carrying equipment."
)


LEAVE = (
    "Annual leave\n\n"
    "New hires get 10 days of paid annual leave in their first calendar year, prorated from their start date. "
    "After two full years of service the allowance rises to 15 days, and after five years to 20 days.\n\n"
    "Request leave in the HR portal (Lanting Hub → Time Off) at least 5 working days in advance. Your direct "
    "manager approves or declines within 2 working days. Up to 5 unused days can be carried over to the next "
    "year; carried-over days expire on 31 March."
)


def test_english_neighbour_holding_the_asked_value_comes_along(answerer: Answerer) -> None:
    # "spending the money" and "Books" each match half the question. The sentence after the first
    # ("Claims under 2,000 yuan are approved ...") is another rule, not context: it used to crowd
    # out the item that holds the amount asked for.
    answer = answerer.answer("How much can I spend on books?", hits(EXPENSES))
    assert answer.text.endswith("- Books and online courses: up to 3,000 yuan per year. [1]")
    assert "Team meals" not in answer.text and "Taxis" not in answer.text


def test_who_questions_are_answered_by_the_doer_of_their_verb(answerer: Answerer) -> None:
    # Handbooks answer "who approves?" with a role, not a capitalised name.
    answer = answerer.answer("Who approves my leave?", hits(LEAVE))
    assert "Your direct manager approves or declines within 2 working days. [1]" in answer.text
    assert "carried over" not in answer.text


def test_the_rule_covering_the_asked_amount_is_quoted(answerer: Answerer) -> None:
    answer = answerer.answer("Who approves an expense claim of 5,000 yuan?", hits(EXPENSES))
    assert answer.text == (
        "Claims under 2,000 yuan are approved by your manager; claims of 2,000 yuan or more also need "
        "approval from Finance (finance@lanting.example). [1]"
    )


def test_english_sentences_of_one_chunk_compete_on_their_own_words(answerer: Answerer) -> None:
    # Every sentence of the chunk shares its retrieval score; "New hires get 10 days of paid annual
    # leave" shares two words with the question and used to come along on that shared score.
    answer = answerer.answer("Can I carry over unused leave days?", hits(LEAVE))
    assert answer.text == (
        "Up to 5 unused days can be carried over to the next year; carried-over days expire on 31 March. [1]"
    )


def test_a_bilingual_paragraph_is_quoted_in_the_question_s_language(answerer: Answerer) -> None:
    # A handbook that states each rule in both languages, one after the other: the translation is
    # not context for the answer (a Chinese answer quoted the English line before it too).
    sources = hits(
        "New hires get 15 days of annual leave per year.\n新员工每年享有15天带薪年假。",
        "Annual leave requests need your manager's approval.\n年假申请须经经理批准。",
    )
    zh = answerer.answer("新员工每年享有多少天年假？", sources)
    assert zh.text.startswith("新员工每年享有15天带薪年假。"), zh.text
    assert "New hires" not in zh.text, zh.text
    en = answerer.answer("How many days of annual leave do new hires get?", sources)
    assert en.text.startswith("New hires get 15 days"), en.text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.text), en.text


def test_a_faq_heading_with_a_compound_word_asks_the_question(answerer: Answerer) -> None:
    # "Wi-Fi" in the heading is the one term "wifi", as in the question: its parts "wi" and "fi" do
    # not make the heading look like it asks about more than the question does.
    sources = faq(
        ("How do I set up the Wi-Fi?", "Scan the QR code on the meeting room door."),
        ("IT security", "Lock your screen when you leave your desk."),
    )
    answer = answerer.answer("How do I set up wifi?", sources)
    assert answer.text == "Scan the QR code on the meeting room door. [1]", answer.text


def test_the_heading_is_no_neighbour_of_the_first_sentence_under_it(answerer: Answerer) -> None:
    # Every sentence of the section shares its heading; counted in the first one's window alone, it
    # put that sentence behind the next ("get on the wifi" quoted the guest network).
    sources = faq(
        (
            "How do I connect to the office Wi-Fi?",
            "Join the network Lanting-Staff and sign in with your Lanting Hub account. Guests use "
            "Lanting-Guest; the password changes every Monday and is shown at reception.",
        ),
    )
    answer = answerer.answer("How do I get on the wifi?", sources)
    assert answer.text.startswith("Join the network Lanting-Staff"), answer.text


@pytest.mark.parametrize(
    ("question", "text", "lead", "items"),
    [
        (
            "What should I do in my first week?",
            "Onboarding\nComplete these steps in order during your first week:\n\n1. Collect your badge at reception."
            "\n2. Sign the employment contract in the HR portal.\n3. Set up your laptop with IT.\n\n"
            "Ask your buddy if anything is unclear.",
            "Complete these steps in order during your first week: [1]",
            ["1. Collect your badge", "2. Sign the employment contract", "3. Set up your laptop with IT. [1]"],
        ),
        (
            "入职第一周要做什么？",
            "入职指南\n入职第一周请按顺序完成以下事项：\n- 到前台领取工牌。\n- 在人事系统签署劳动合同。\n\n"
            "有问题请问你的导师。",
            "入职第一周请按顺序完成以下事项： [1]",
            ["- 到前台领取工牌。", "- 在人事系统签署劳动合同。 [1]"],
        ),
    ],
)
def test_a_sentence_announcing_a_list_is_quoted_with_the_list(
    answerer: Answerer, question: str, text: str, lead: str, items: list[str]
) -> None:
    # Quoted alone, "Complete these steps ...:" said there were steps and gave none.
    answer = answerer.answer(question, hits(text))
    assert not answer.refused
    lines = answer.text.split("\n")
    assert lines[0] == lead, answer.text
    assert [line[: len(item)] for line, item in zip(lines[1:], items, strict=True)] == items
    assert "buddy" not in answer.text and "导师" not in answer.text


TRADITIONAL = (
    "香港辦事處簡介\n\n香港辦事處位於灣仔港灣道十八號中環廣場三十五樓。"
    "辦公時間為星期一至星期五上午九時至下午六時，公眾假期休息。"
    "辦事處主管為梁志強先生，聯絡電話為 2511 8080。"
)


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("香港辦事處在哪裡？", "中環廣場三十五樓"),  # a Traditional question
        ("香港办事处在哪里？", "中環廣場三十五樓"),  # a Simplified one, over the same Traditional text
        ("辦事處主管是誰？", "梁志強"),
    ],
)
def test_traditional_chinese_is_answered_and_quoted_as_written(answerer: Answerer, question: str, wanted: str) -> None:
    # Refused before: jieba cut 辦事處 into single characters and no rule read 樓 or 誰.
    answer = answerer.answer(question, hits(TRADITIONAL))
    assert not answer.refused and wanted in answer.text, answer.text
    assert answer.grounding == 1.0


def test_a_traditional_question_over_simplified_text(answerer: Answerer) -> None:
    simplified = "香港办事处简介\n\n香港办事处位于湾仔港湾道十八号中环广场三十五楼。办公时间为星期一至星期五。"
    answer = answerer.answer("香港辦事處在哪裡？", hits(simplified))
    assert not answer.refused and "中环广场三十五楼" in answer.text


def test_slide_bullets_without_a_full_stop_are_quotable(answerer: Answerer) -> None:
    # Short and unpunctuated, each bullet read as a heading and was never quoted: the speaker notes were.
    slide = (
        "第四季度计划\n\n- 在成都开设新的西南区域办公室\n- 招聘 25 名销售人员\n- 上线新版客户门户\n\n"
        "Notes: 讲者备注：成都办公室的租约将于十一月十五日签署，年租金预算为 180 万元。"
    )
    answer = answerer.answer("第四季度要招聘多少名销售人员？", hits(slide))
    assert not answer.refused and "招聘 25 名销售人员" in answer.text and "租约" not in answer.text


def test_a_sentence_right_above_a_table_is_no_title(answerer: Answerer) -> None:
    # A DOCX footnote paragraph sat right above the table and counted as its title line: never quoted.
    text = (
        "Equipment\n\nEvery engineer receives a laptop and a second monitor.\n\n"
        "Lost or stolen laptops must be reported to the IT service desk at extension 8110 within 24 hours.\n\n"
        "| Role | Laptop | Monitor |\n| --- | --- | --- |\n| Engineer | ThinkPad X1 Carbon | 27-inch 4K |\n"
        "| Sales | ThinkPad T14 | none |"
    )
    answer = answerer.answer("What is the IT service desk extension?", hits(text))
    assert not answer.refused and "extension 8110" in answer.text, answer.text


def test_a_refusal_answers_in_the_question_s_script(answerer: Answerer) -> None:
    traditional = answerer.answer("公司的年終獎金什麼時候發？", hits(TRADITIONAL))
    assert traditional.refused and traditional.text == "知識庫中沒有找到能夠回答這個問題的內容。"
    simplified = answerer.answer("公司的年终奖金什么时候发？", hits(TRADITIONAL))
    assert simplified.refused and simplified.text == "知识库中没有找到能够回答这个问题的内容。"


def test_the_llm_is_told_its_rules_in_the_question_s_script(answerer: Answerer) -> None:
    rules = answerer.messages("香港辦事處在哪裡？", hits(TRADITIONAL), "zh")[0]["content"]
    assert "資料如下" in rules and "资料如下" not in rules
    assert "资料如下" in answerer.messages("香港办事处在哪里？", hits(TRADITIONAL), "zh")[0]["content"]


def test_a_footnote_above_a_table_answers_instead_of_the_table_s_column(answerer: Answerer) -> None:
    # The footnote was read as the table's title, so the "Laptop" column looked like the answer.
    text = (
        "Equipment\n\nEvery engineer receives a laptop and a second monitor.\n\n"
        "Footnote 1: Lost or stolen laptops must be reported to the IT service desk at extension 8110 "
        "within 24 hours.\n\n| Role | Laptop | Monitor |\n| --- | --- | --- |\n"
        "| Engineer | ThinkPad X1 Carbon | 27-inch 4K |\n| Sales | ThinkPad T14 | none |"
    )
    answer = answerer.answer("How quickly must a lost laptop be reported?", hits(text))
    assert not answer.refused and "within 24 hours" in answer.text and "ThinkPad" not in answer.text


def test_the_document_title_a_chunk_opens_with_is_never_quoted(answerer: Answerer) -> None:
    # A document title longer than a "bare heading" (20 characters) was quoted as an answer sentence
    # ("New Employee Onboarding Guide [1] ..."): it holds the question's words and no answer.
    title = "Laptop Replacement Program Guide"
    text = f"{title}\n\nOverview\n\nEvery employee gets a laptop.\n\nOld laptops are replaced every four years."
    hit = Hit(10, 1, 1.0, text, Locator(heading_path=["Overview"]), "guide.docx", title)
    answer = answerer.answer("What happens to old laptops?", [hit])
    assert not answer.refused and "every four years" in answer.text
    assert title not in answer.text, answer.text


@pytest.mark.parametrize(
    ("question", "text", "wanted"),
    [
        (
            "How often are laptops replaced?",
            "Every employee gets a laptop. Laptops are replaced every four years.",
            "four years",
        ),
        ("How many days of annual leave do new hires get?", "New hires get ten days of annual leave.", "ten days"),
        ("How often is the fire drill held?", "The fire drill is held twice a year.", "twice a year"),
    ],
)
def test_numbers_written_in_english_words_answer(answerer: Answerer, question: str, text: str, wanted: str) -> None:
    # A number question found no number in "every four years" and refused it (evidence 0.25).
    answer = answerer.answer(question, hits(text))
    assert not answer.refused and wanted in answer.text, answer.text


def test_a_how_to_question_is_answered_by_the_steps_under_the_heading_that_names_it(answerer: Answerer) -> None:
    # The steps under "年假申请流程" share no word with 年假怎么申请？; the parent section's entitlement
    # sentences do, and were quoted instead (the README's own example question, on a fuller handbook).
    steps = (
        "年假申请流程\n\n1. 登录OA系统，进入假期管理页面。\n2. 选择假期类型和起止日期，填写请假事由。\n"
        "3. 提交给直属主管审批。\n4. 审批通过后，系统会自动通知人事部。"
    )
    section = "年假\n\n入职满一年的员工每年享有10天带薪年假。工作满五年后，年假增加到15天。未休完的年假最多可结转5天。"
    sources = [
        Hit(10, 1, 1.0, steps, Locator(heading_path=["员工手册", "年假", "年假申请流程"]), "hr.md"),
        Hit(11, 1, 0.6, section, Locator(heading_path=["员工手册", "年假"]), "hr.md"),
    ]
    for question in ("年假怎么申请？", "年假如何申请？"):
        answer = answerer.answer(question, sources)
        assert not answer.refused and answer.text.startswith("1. 登录OA系统") and "4. 审批通过后" in answer.text
        assert "带薪年假" not in answer.text, answer.text


def test_an_faq_answer_under_the_document_title_is_read_as_the_answer(answerer: Answerer) -> None:
    # The chunk opens with the FAQ's title, then the question heading: the first sentence under the
    # heading was not recognised as the FAQ's answer and two later rules were quoted around it.
    text = (
        "Qinglan Tech IT Helpdesk FAQ\n\nHow do I reset my password?\n\n"
        "Go to https://sso.qinglan.example/reset and enter your employee ID. A verification code is sent to your "
        "registered mobile phone. Passwords must be at least 12 characters long. Passwords expire every 90 days."
    )
    path = ["Qinglan Tech IT Helpdesk FAQ", "How do I reset my password?"]
    answer = answerer.answer(
        "How do I reset my password?", [Hit(10, 1, 1.0, text, Locator(heading_path=path), "faq.md")]
    )
    assert not answer.refused and answer.text.startswith("Go to https://sso.qinglan.example/reset"), answer.text
    # The question is the FAQ's own: its short answer is quoted whole, in order (the verification-code
    # step in the middle was skipped while the later rules were quoted).
    assert "A verification code is sent to your registered mobile phone." in answer.text
    assert answer.text.index("verification code") < answer.text.index("expire")


def test_an_faq_answer_leaves_out_a_lead_in_to_a_table_it_does_not_quote(answerer: Answerer) -> None:
    text = (
        "When will I get a new laptop?\n\nLaptops are replaced every 3 years. Engineers can choose between "
        "these models:\n\n| Role | Laptop |\n| --- | --- |\n| Engineering | ThinkPad X1 Carbon |"
    )
    hit = Hit(10, 1, 1.0, text, Locator(heading_path=["When will I get a new laptop?"]), "faq.html")
    answer = answerer.answer("When will I get a new laptop?", [hit])
    assert not answer.refused and "every 3 years" in answer.text
    assert "these models:" not in answer.text, answer.text


def test_a_version_number_in_the_title_names_the_product_it_is_no_amount(answerer: Answerer) -> None:
    # "2.0" of "Xinghe 2.0" was read as an amount the chunk never states and as one "at least 16 GB"
    # does not hold: refused (0.24), though the chunk sits under "Xinghe 2.0 Product Specification".
    text = "System requirements\n\n- CPU: 4 cores or more\n- Memory: at least 16 GB RAM\n- Disk: 200 GB SSD"
    hit = Hit(
        10,
        1,
        1.0,
        text,
        Locator(heading_path=["Xinghe 2.0 Product Specification", "System requirements"]),
        "spec.html",
        "Xinghe 2.0 Product Specification",
        context="Xinghe 2.0 Product Specification > System requirements",
    )
    answer = answerer.answer("How much memory does Xinghe 2.0 need?", [hit])
    assert not answer.refused and "16 GB RAM" in answer.text, answer.text
