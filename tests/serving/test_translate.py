"""Messages the service's checks write in English, as a Thai page shows them."""

from __future__ import annotations

import pytest

from serving.i18n import signed, words
from serving.translate import fairness_flag, thai, unread_column
from tests.serving.test_thai_pages import foreign_words

# What the study of actions (``training.effects``) says of an estimate it cannot use.
EFFECT_PROBLEMS = [
    "the interval is 0.061 wide (over 0.05)",
    "12% of treated students have no comparable untreated one",
    "the groups still differ after weighting (|SMD| 0.78)",
    "the interval is 0.061 wide (over 0.05); the groups still differ after weighting (|SMD| 0.54)",
    "no benefit order: the home-visit estimate is not usable (the groups still differ "
    "after weighting (|SMD| 0.54))",
]
ONE_SHIFT = (
    "benefit order available: a visit shifts the log-odds of leaving for a reason it can "
    "address by -0.74 (learnt from 2515 visits); one effect for everyone: the records do not "
    "tell the groups apart: one shift of the log-odds (-0.65) fits both groups' estimates, "
    "-0.015 [-0.027, -0.003] for students with attendance or family trouble and -0.006 "
    "[-0.012, +0.001] for the others (chi-squared 1.05, p 0.31)"
)


@pytest.mark.parametrize("message", EFFECT_PROBLEMS)
def test_why_an_actions_estimate_is_not_used_reads_in_thai(message: str) -> None:
    """The model page's table of what actions did showed "the groups still differ after
    weighting (|SMD| 0.78)" in English on the Thai page."""
    text = thai(message)

    assert foreign_words(f"<p>{text}</p>", set()) == []
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in text)
    for number in ("0.061", "0.05", "12%", "0.78", "0.54"):
        assert (number in message) == (number in text)


def test_why_a_visit_has_one_effect_for_everyone_reads_in_thai_with_its_figures() -> None:
    text = thai(ONE_SHIFT)

    assert foreign_words(f"<p>{text}</p>", set()) == []
    for figure in ("-0.74", "2515", "-0.65", "-0.015 [-0.027, -0.003]", "[-0.012, +0.001]", "1.05"):
        assert figure in text, figure
    assert "0.31" in text


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "nationality = other (stayers flagged, flagged who left)"),
        ("th", "สัญชาติ: อื่น ๆ (อัตราแจ้งเตือนผิด, ความแม่นยำ)"),
    ],
)
def test_a_fairness_flag_reads_in_words_in_both_languages(language: str, says: str) -> None:
    """The English model page listed a flag by its codes: "nationality=other (fpr,precision)"."""
    assert fairness_flag("nationality=other (fpr,precision)", language) == says


@pytest.mark.parametrize(
    ("key", "one", "three"),
    [
        ("overdue", "1 day overdue", "3 days overdue"),
        ("days", "1 day", "3 days"),
        ("days_ago", "1 day ago", "3 days ago"),
        ("untouched_n", "No action (1 day)", "No action (3 days)"),
        (
            "untouched",
            "Flagged students with no action in the last day",
            "Flagged students with no action in the last 3 days",
        ),
    ],
)
def test_a_count_of_days_reads_as_english_says_it(key: str, one: str, three: str) -> None:
    """The English pages read "1 days overdue"."""
    english = words("en")[key]
    assert (english.format(1), english.format("1"), english.format(3)) == (one, one, three)
    assert words("th")[key].format(1) == words("th")[key].format(3).replace("3", "1")


def test_a_column_given_twice_is_named_in_thai_and_a_registers_day_by_its_date() -> None:
    """The upload page says in Thai why a second column was not read where it differs:
    a contract column by its Thai word, a code the page has no word for set apart from
    the Thai around it, and a register's day given twice as the day, written as the page
    writes dates (it showed 2024-11-07 and ran it into the Thai words)."""
    why = "where it differs from the first, the first is read"

    sex = unread_column(f"คำนำหน้าชื่อ (a second sex column: {why})", "th")
    code = unread_column(f"x (a second t_code column: {why})", "th")
    day_th = unread_column(f"2024-11-07 (a second 2024-11-07 column: {why})", "th")
    day_en = unread_column(f"2024-11-07 (a second 2024-11-07 column: {why})", "en")

    assert sex == ("คำนำหน้าชื่อ", "คอลัมน์เพศซ้ำ แถวที่ค่าต่างจากคอลัมน์แรก ใช้ค่าของคอลัมน์แรก")
    assert code == ("x", "คอลัมน์ t_code ซ้ำ แถวที่ค่าต่างจากคอลัมน์แรก ใช้ค่าของคอลัมน์แรก")
    assert day_th == ("7 พ.ย. 2567", "วันนี้ซ้ำสองคอลัมน์ แถวที่ค่าต่างกัน ใช้ค่าของคอลัมน์แรก")
    assert day_en == ("7 Nov 2024", "this day is given twice: where they differ, the first is read")


def test_a_change_that_rounds_to_nothing_is_not_shown_as_a_small_harm() -> None:
    """An effect of -0.0003 was shown as "-0.000" on the model page and by ews effects."""
    assert [signed(v) for v in (-0.0003, 0.0003, -0.0081, 0.0126)] == [
        "+0.000",
        "+0.000",
        "-0.008",
        "+0.013",
    ]
