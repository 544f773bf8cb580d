from pathlib import Path

from zhiku.simplify import Simplifier
from zhiku.text import Analyzer, detect_language, estimate_tokens, sentence_spans, split_sentences


def test_terms_mix_jieba_and_stemming() -> None:
    terms = Analyzer().terms("新员工的年假怎么申请? New hires get 10 days of annual leave.")
    assert "员工" in terms and "申请" in terms
    assert "hire" in terms and "leav" in terms and "10" in terms
    # stopwords of both languages are dropped
    assert "的" not in terms and "of" not in terms and "怎么" not in terms


def test_search_mode_emits_subwords() -> None:
    terms = Analyzer().terms("人工智能")
    assert "智能" in terms and "人工智能" in terms


def test_query_terms_are_distinct() -> None:
    assert Analyzer().query_terms("leave leave 年假 年假") == ["leav", "年", "假"]


def test_queries_are_cut_coarse_and_documents_fine() -> None:
    # Documents index every long word and its sub-words (jieba's search mode); a query keeps the long
    # word (accurate mode), which the index holds too, instead of also asking for each sub-word.
    analyzer = Analyzer()
    assert analyzer.terms("人工智能的发展") == ["人工", "智能", "人工智能", "发展"]
    assert analyzer.query_terms("人工智能的发展") == ["人工智能", "发展"]
    assert set(analyzer.query_terms("人工智能的发展")) <= set(analyzer.terms("人工智能的发展"))
    assert analyzer.query_terms("AI 人工智能 leave") == ["ai", "人工智能", "leav"]


def test_full_width_is_normalised() -> None:
    assert Analyzer().terms("ＡＢＣ １２３") == ["abc", "123"]


def test_sentences_chinese_and_english() -> None:
    text = "新员工有十天年假。需要提前申请！New hires get 10 days, e.g. in Q1. Dr. Smith approves 3.5 days. Done"
    assert split_sentences(text) == [
        "新员工有十天年假。",
        "需要提前申请！",
        "New hires get 10 days, e.g. in Q1.",
        "Dr. Smith approves 3.5 days.",
        "Done",
    ]


def test_sentence_spans_index_the_text() -> None:
    text = "  第一句。 Second one.\n第三句"
    for start, end in sentence_spans(text):
        assert text[start:end].strip() == text[start:end] and text[start:end]


def test_language_detection() -> None:
    assert detect_language("How many days?") == "en"
    assert detect_language("年假怎么申请") == "zh"
    assert detect_language("VPN 怎么配置？") == "zh"


def test_token_estimate_is_in_the_right_range() -> None:
    # ~0.8 tokens per Chinese character, ~1.4 per English word (measured on multilingual-e5)
    assert 35 <= estimate_tokens("兰" * 50) <= 45
    assert 25 <= estimate_tokens(" ".join(["word"] * 20)) <= 31


def test_digits_and_latin_glued_to_chinese_are_segmented() -> None:
    terms = Analyzer().terms("2022年春节档首日票房冠军是iPhone15吗")
    assert "2022" in terms and "春节" in terms and "票房" in terms and "冠军" in terms
    assert "iphone15" in terms


def test_jieba_loads_on_chinese_text_only(tmp_path: Path) -> None:
    analyzer = Analyzer(tmp_path)
    assert analyzer.terms("Annual leave requests") == ["annual", "leav", "request"]
    assert not analyzer.jieba_loaded and not list(tmp_path.iterdir())
    assert not analyzer.needs_jieba("Annual leave") and analyzer.needs_jieba("年假") and analyzer.needs_jieba("⼀")
    assert analyzer.terms("年假申请") and analyzer.jieba_loaded


def test_irregular_past_forms_meet_their_verb() -> None:
    a = Analyzer()
    assert a.terms("I lost my laptop; we paid and bought it, it was stolen") == [
        "lose",
        "laptop",
        "pay",
        "buy",
        "steal",
    ]
    assert a.terms("lose losing loses") == ["lose", "lose", "lose"]
    assert a.terms("I left it on the left") == ["left", "left"]  # ambiguous forms are left alone


def test_compound_words_give_their_parts_and_their_parts_joined() -> None:
    a = Analyzer()
    assert a.terms("Wi-Fi") == ["wi", "fi", "wifi"]
    assert a.terms("COVID-19") == ["covid", "19", "covid19"]
    assert a.terms("vpn.lanting.example") == ["vpn", "lanting", "exampl", "vpnlantingexampl"]
    assert a.terms("3.5 days") == ["3", "5", "35", "day"]
    # As the keyword index's tokenizer (FTS5 unicode61) splits them: every term is one token there.
    assert all(t.isalnum() for t in a.terms("e-mail, U.S., don't, it-help@lanting.example, 2.5-inch"))
    # The document side holds every form, so a question written any of the three ways finds it.
    for asked in ("wifi", "Wi-Fi", "wi fi"):
        assert set(a.query_terms(asked)) <= set(a.terms("the office Wi-Fi")), asked
    # A question's evidence terms take a compound by its joined form alone.
    assert a.terms("office Wi-Fi", parts=False) == ["offic", "wifi"]


def test_traditional_chinese_gives_the_terms_of_simplified() -> None:
    analyzer = Analyzer()
    traditional = "香港辦事處位於灣仔港灣道十八號中環廣場三十五樓。辦公時間為星期一至星期五。"
    simplified = "香港办事处位于湾仔港湾道十八号中环广场三十五楼。办公时间为星期一至星期五。"
    assert analyzer.terms(traditional) == analyzer.terms(simplified)
    assert analyzer.query_terms("辦事處在哪裡？") == analyzer.query_terms("办事处在哪里？")


def test_simplifying_keeps_simplified_text_and_every_position() -> None:
    simplify = Simplifier()
    for text in ("乾隆皇帝的著作", "咖哩饭很好吃", "Wi-Fi 密码是 zebra", "", "English only."):
        assert simplify(text) == text  # nothing Traditional in it: not touched
    traditional = "頭髮乾燥，請於後天來理髮。乾隆年間的麵條。"
    simple = simplify(traditional)
    assert simple == "头发干燥，请于后天来理发。乾隆年间的面条。" and len(simple) == len(traditional)


def test_the_traditional_character_list_matches_the_installed_opencc() -> None:
    from zhiku.simplify import traditional_characters
    from zhiku.traditional_chars import TRADITIONAL

    assert traditional_characters() == TRADITIONAL


def test_english_and_simplified_text_never_load_opencc() -> None:
    simplify = Simplifier()
    assert simplify("New hires get ten days of annual leave.") == "New hires get ten days of annual leave."
    assert simplify("公司停车场位于地下二层。") == "公司停车场位于地下二层。"
    assert "_converter" not in simplify.__dict__
