"""Regenerate ``benefits.docx`` of the demo corpus: ``python -m zhiku.demo.make_demo``.

The DOCX is committed; this script documents where it came from and rebuilds it after edits.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document


def build(path: Path) -> Path:
    """Write the Lanting Tech benefits guide (English with Chinese headings) to ``path``."""
    doc = Document()
    doc.core_properties.title = "Lanting Tech Benefits Guide 福利指南"
    doc.core_properties.author = "Lanting Tech People Team"
    doc.add_heading("Lanting Tech Benefits Guide 福利指南", level=0)
    doc.add_paragraph(
        "This guide lists the benefits every full-time employee of Lanting Tech (兰亭科技) receives "
        "from their first day. Contact benefits@lanting.example with questions."
    )

    doc.add_heading("Health insurance 医疗保险", level=1)
    doc.add_paragraph(
        "Lanting Tech pays for supplementary health insurance from Taiping Health for every employee. "
        "Spouses and children can be added for 1,200 yuan per person per year. The annual health "
        "check-up takes place every October at Hangzhou Ruijin Clinic."
    )

    doc.add_heading("Allowances 补贴", level=1)
    doc.add_paragraph("Monthly allowances are paid with the salary on the 15th:")
    for item in (
        "Lunch allowance: 600 yuan per month (午餐补贴每月 600 元)",
        "Mobile phone allowance: 100 yuan per month",
        "Home-office allowance: 1,500 yuan once, after probation",
    ):
        doc.add_paragraph(item, style="List Bullet")

    doc.add_heading("Benefits by length of service 司龄福利", level=1)
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    header = table.rows[0].cells
    header[0].text, header[1].text, header[2].text = "Years of service", "Annual leave", "Extra benefit"
    for years, leave, extra in (
        ("Less than 2", "10 days", "Welcome kit"),
        ("2 to 5", "15 days", "Gym membership (3,600 yuan per year)"),
        ("More than 5", "20 days", "Sabbatical of 4 weeks after 7 years"),
    ):
        cells = table.add_row().cells
        cells[0].text, cells[1].text, cells[2].text = years, leave, extra

    doc.add_heading("Learning 学习发展", level=1)
    doc.add_paragraph(
        "Each employee has a learning budget of 3,000 yuan per year for books, courses and "
        "conferences. 每位员工每年有 3000 元学习预算，可用于购买书籍、课程和参加会议。"
    )
    doc.save(str(path))
    return path


if __name__ == "__main__":
    print(build(Path(__file__).with_name("benefits.docx")))
