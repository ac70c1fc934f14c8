import pytest

from bot.domain.extension_answers import (
    explicit_choice,
    is_question,
    parse_confirmation,
    parse_loan,
    parse_option,
    parse_reason,
)

OFFERED = ["defer_7", "defer_14", "defer_30", "split_3", "split_6", "split_12"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("延期30天", "defer_30"),
        ("延期 7 天", "defer_7"),
        ("推迟一个月", "defer_30"),
        ("晚14天还", "defer_14"),
        ("分6期", "split_6"),
        ("分十二期吧", "split_12"),
        ("分三个月还", "split_3"),
        ("分期半年", "split_6"),
        ("Defer 30 days", "defer_30"),
        ("defer 7 days please", "defer_7"),
        ("split into 6 months", "split_6"),
        ("12 monthly instalments", "split_12"),
        ("three months", "split_3"),
        ("第二个", "defer_14"),
        ("the first one", "defer_7"),
        ("6", "split_6"),
        ("30", "defer_30"),
        ("換成分6期", "split_6"),
        ("延期90天", None),
        ("分5期", None),
        ("随便", None),
        ("what?", None),
    ],
)
def test_option_answers_in_both_languages(text, code):
    assert parse_option(text, OFFERED) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("失业", "job_loss"),
        ("公司裁员了，现在没工作", "job_loss"),
        ("I lost my job last month", "job_loss"),
        ("生病住院了", "illness"),
        ("my mum is in hospital", "illness"),
        ("生意困难", "business"),
        ("business trouble", "business"),
        ("家里遭了洪水", "disaster"),
        ("Disaster", "disaster"),
        ("其他", "other"),
        ("离婚了手头紧", "other"),
        ("Other", "other"),
    ],
)
def test_hardship_reasons_are_coded_and_the_customers_words_kept(text, code):
    assert parse_reason(text) == (code, text)


def test_an_empty_reason_is_not_an_answer():
    assert parse_reason(" ") is None and parse_reason("?") is None


def test_loans_are_chosen_by_id_or_position():
    loans = ["L1004A", "L2000"]
    assert parse_loan("l1004a", loans) == "L1004A"
    assert parse_loan("就L2000这笔", loans) == "L2000"
    assert parse_loan("第二笔", loans) == "L2000"
    assert parse_loan("2", loans) == "L2000"
    assert parse_loan("L9999", loans) is None
    assert parse_loan("3", loans) is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("确认办理", True),
        ("好的", True),
        ("Confirm", True),
        ("yes please", True),
        ("取消", False),
        ("算了不办了", False),
        ("no", False),
        ("cancel", False),
        ("嗯？", None),
        ("what does that mean", None),
    ],
)
def test_confirmation_answers(text, answer):
    assert parse_confirmation(text) is answer


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        # questions and messages whose numbers are dates or amounts never choose an option
        ("等下 那12月20号那期还要照常还吗", None),
        ("那12号到期的那期2600还要还吗", None),
        ("分12期的话每期多少", None),
        ("what about the payment on Dec 20?", None),
        ("will the 1,080.00 one still be due?", None),
        ("可以吗", None),
        ("好的", None),
        ("确认办理", None),
        # explicit choices do
        ("还是分6期吧", "split_6"),
        ("分6期", "split_6"),
        ("延期14天", "defer_14"),
        ("make it 6 months instead", "split_6"),
        ("I'd rather defer 14 days", "defer_14"),
        ("6", "split_6"),
    ],
)
def test_at_the_confirmation_step_only_an_explicit_choice_changes_the_plan(text, choice):
    assert explicit_choice(text, OFFERED) == choice


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("那12月20号那期还要照常还吗", True),
        ("有违约金吗？", True),
        ("how much is each month?", True),
        ("do I still pay on the 16th", True),
        ("确认办理", False),
        ("yes please", False),
        ("还是分6期吧", False),
    ],
)
def test_questions_are_told_apart_from_answers(text, question):
    assert is_question(text) is question
