"""EML parser on messages built with the standard library: headers, bodies, charsets of Chinese mail,
attachments (nested messages included) returned as their own documents, broken input."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import check_spans
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry


def _write(path: Path, msg: EmailMessage) -> Path:
    path.write_bytes(msg.as_bytes(policy=policy.SMTP))
    return path


def _full_message() -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "Li Na <li.na@example.com>"
    inner["To"] = "team@example.com"
    inner["Subject"] = "Original budget"
    inner["Date"] = "Mon, 03 Jun 2024 09:00:00 +0800"
    inner.set_content("The original budget was 40,000 yuan.")

    msg = EmailMessage()
    msg["From"] = "王伟 <wang.wei@example.com>"
    msg["To"] = "Li Na <li.na@example.com>, bob@example.com"
    msg["Cc"] = "finance@example.com"
    msg["Subject"] = "Q3 travel policy update / 差旅政策更新"
    msg["Date"] = "Tue, 04 Jun 2024 10:30:00 +0800"
    msg.set_content("Hello team,\n\nThe hotel limit rises to 600 yuan per night.\n\nRegards,\nWang Wei\n")
    msg.add_alternative(
        "<html><body><p>Hello team,</p><p>The hotel limit rises to <b>600 yuan</b> per night.</p></body></html>",
        subtype="html",
    )
    # An inline picture referenced by the HTML body: not a document.
    msg.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "image", "png", cid="<logo@x>")
    msg.add_attachment(
        b"city,limit\nBeijing,600\nShanghai,650\n", maintype="text", subtype="csv", filename="limits.csv"
    )
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="差旅制度.pdf")
    msg.add_attachment(inner)
    return msg


def test_eml_headers_body_attachments(registry: ParserRegistry, tmp_path: Path) -> None:
    doc = registry.parse(_write(tmp_path / "policy.eml", _full_message()))
    check_spans(doc)
    subject = "Q3 travel policy update / 差旅政策更新"
    assert doc.title == subject
    heading, header = doc.blocks[0], doc.blocks[1]
    assert heading.kind == "heading" and heading.text == subject
    assert header.text.splitlines() == [
        "From: 王伟 <wang.wei@example.com>",
        "To: Li Na <li.na@example.com>, bob@example.com",
        "Cc: finance@example.com",
        "Date: Tue, 04 Jun 2024 10:30:00 +0800",
        f"Subject: {subject}",
    ]
    body = [b.text for b in doc.blocks[2:]]
    # text/plain preferred over its HTML alternative: the sentence appears once.
    assert body[:3] == ["Hello team,", "The hotel limit rises to 600 yuan per night.", "Regards,\nWang Wei"]
    assert doc.text.count("600 yuan") == 1
    assert all(b.locator.heading_path == [subject] for b in doc.blocks)
    names = [a.name for a in doc.attachments]
    assert names == ["limits.csv", "差旅制度.pdf", "Original budget.eml"]  # no inline logo
    assert doc.attachments[0].data == b"city,limit\nBeijing,600\nShanghai,650\n"
    assert body[-1] == "Attachments: limits.csv, 差旅制度.pdf, Original budget.eml"
    assert doc.metadata["date_iso"] == "2024-06-04T10:30:00+08:00"


def test_eml_attachments_parse_as_documents(registry: ParserRegistry, tmp_path: Path) -> None:
    doc = registry.parse(_write(tmp_path / "policy.eml", _full_message()))
    out = tmp_path / "attachments"
    out.mkdir()
    for att in doc.attachments:
        (out / att.name).write_bytes(att.data)
    csv_doc = registry.parse(out / "limits.csv")
    assert csv_doc.blocks[0].rows == [["city", "limit"], ["Beijing", "600"], ["Shanghai", "650"]]
    nested = registry.parse(out / "Original budget.eml")
    assert nested.title == "Original budget"
    assert "The original budget was 40,000 yuan." in nested.text
    assert "From: Li Na <li.na@example.com>" in nested.text


def test_eml_gb2312_declared_with_gbk_characters(registry: ParserRegistry, tmp_path: Path) -> None:
    # 镕 and 祎 are GBK but not GB2312: clients declare gb2312 and send them anyway.
    subject = "朱镕基与董祎的会议纪要"
    body = "会议于周三下午召开。\n\n朱镕基发言：预算需压缩百分之十。"
    encoded_subject = "=?gb2312?B?" + __import__("base64").b64encode(subject.encode("gbk")).decode() + "?="
    raw = (
        f"From: =?gb2312?B?{__import__('base64').b64encode('董祎'.encode('gbk')).decode()}?= <dy@example.cn>\r\n"
        f"To: all@example.cn\r\nSubject: {encoded_subject}\r\nDate: Wed, 05 Jun 2024 14:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + body.replace("\n", "\r\n").encode("gbk")
    path = tmp_path / "纪要.eml"
    path.write_bytes(raw)
    doc = registry.parse(path)
    assert doc.title == subject
    assert "From: 董祎 <dy@example.cn>" in doc.blocks[1].text
    assert [b.text for b in doc.blocks[2:]] == ["会议于周三下午召开。", "朱镕基发言：预算需压缩百分之十。"]
    assert "\ufffd" not in doc.text


def test_eml_raw_8bit_headers_without_charset(registry: ParserRegistry, tmp_path: Path) -> None:
    # Old Chinese mail software: GBK bytes straight in the headers and body, nothing declared.
    text = (
        "Subject: 关于二〇二四年度年假安排的通知\r\nFrom: 人事部 <hr@example.cn>\r\nTo: 全体员工 <all@example.cn>\r\n"
        "\r\n各位同事：\r\n\r\n今年的年假请在十二月三十一日前休完，未休部分不予顺延。请各部门负责人做好统筹安排。\r\n"
    )
    path = tmp_path / "notice.eml"
    path.write_bytes(text.encode("gbk"))
    doc = registry.parse(path)
    assert doc.title == "关于二〇二四年度年假安排的通知"
    assert "From: 人事部 <hr@example.cn>" in doc.text and "To: 全体员工 <all@example.cn>" in doc.text
    assert "今年的年假请在十二月三十一日前休完" in doc.text


def test_eml_big5_body_and_rfc2231_filename(registry: ParserRegistry, tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "陳小明 <chen@example.tw>"
    msg["To"] = "hr@example.tw"
    msg["Subject"] = "請假申請"
    msg.set_content("本人因家中有事，需請假三天。敬請核准。", charset="big5")
    msg.add_attachment("假單內容".encode("big5"), maintype="application", subtype="octet-stream", filename="請假單.txt")
    path = _write(tmp_path / "leave.eml", msg)
    assert b'charset="big5"' in path.read_bytes() or b"charset=big5" in path.read_bytes()
    doc = registry.parse(path)
    assert doc.title == "請假申請"
    assert "本人因家中有事，需請假三天。敬請核准。" in doc.text
    assert [a.name for a in doc.attachments] == ["請假單.txt"]


def test_eml_html_only_body(registry: ParserRegistry, tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "news@example.com"
    msg["To"] = "me@example.com"
    msg["Subject"] = "Newsletter"
    msg.set_content(
        "<html><body><nav>Home | Archive</nav><h2>Price changes</h2><p>Plans change on 1 July.</p>"
        "<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>5</td></tr></table>"
        "<footer>Unsubscribe</footer></body></html>",
        subtype="html",
    )
    doc = registry.parse(_write(tmp_path / "news.eml", msg))
    assert "Home | Archive" not in doc.text and "Unsubscribe" not in doc.text
    heading = next(b for b in doc.blocks if b.text == "Price changes")
    assert heading.kind == "heading" and heading.locator.heading_path == ["Newsletter", "Price changes"]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [["Plan", "Price"], ["Basic", "5"]]


def test_eml_without_headers_is_refused(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "notes.eml"
    path.write_text("just some text\nwithout any mail headers\n", encoding="utf-8")
    with pytest.raises(ParseError, match=r"notes\.eml: not an e-mail message"):
        registry.parse(path)


def test_eml_truncated_still_reads_what_arrived(registry: ParserRegistry, tmp_path: Path) -> None:
    data = _full_message().as_bytes(policy=policy.SMTP)
    path = tmp_path / "cut.eml"
    path.write_bytes(data[: data.index(b"limits.csv") + 200])  # cut inside the CSV attachment
    doc = registry.parse(path)
    assert "The hotel limit rises to 600 yuan per night." in doc.text
    assert all(a.name != "Original budget.eml" for a in doc.attachments)


def test_eml_binary_garbage(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "mail.eml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ParseError, match=r"mail\.eml: "):
        registry.parse(path)
