"""The demo corpus that ``make run`` indexes: a fictional company handbook for Lanting Tech (兰亭科技).

All text is original and fictional. ``EXAMPLE_QUESTIONS`` pairs questions (English and Chinese) with a
substring the correct answer or its top source must contain, so tests can check answers end to end.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).parent

#: (question, expected substring of the answer / its best source)
EXAMPLE_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How many days of annual leave do new hires get?", "10 days"),
    ("How many days can I work remotely per week?", "2 days per week"),
    ("Who approves expense claims of 2,000 yuan or more?", "Finance"),
    ("What is the IT helpdesk phone extension?", "8000"),
    ("How much is the monthly lunch allowance?", "600 yuan"),
    ("What laptop do engineers get?", "ThinkPad X1 Carbon"),
    ("年假怎么申请？", "兰亭 Hub"),
    ("在上海出差住宿标准是多少？", "600"),
    ("报销需要在多长时间内提交？", "30 天"),
    ("核心办公时间是几点到几点？", "10:00"),
)
