"""The conversation review's pure rules: what a tag may be, what a reviewer sees, and marked messages as
Rasa NLU training data that Rasa's own reader loads back exactly, whatever the customer typed."""

from __future__ import annotations

import pytest

from bot.domain.review import ReviewRefused, nlu_yaml, normalise_tag, shown_text, training_example


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("wrong_intent", "wrong_intent"),
        ("  Wrong   Intent ", "wrong_intent"),  # trimmed, lower case, spaces become one _
        ("ＦＯＬＬＯＷ-ＵＰ", "follow-up"),  # full-width folded (NFKC)
        ("回答太慢", "回答太慢"),
        ("转人工 太晚", "转人工_太晚"),
        ("x" * 24, "x" * 24),
        ("v2", "v2"),
        ("fee_2600", "fee_2600"),  # a short number is no customer data
    ],
)
def test_a_tag_is_stored_normalised(typed: str, stored: str) -> None:
    assert normalise_tag(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "tag_empty"),
        (" \t\n", "tag_empty"),
        ("x" * 25, "tag_too_long"),
        ("<b>bold</b>", "tag_charset"),
        ("a/b", "tag_charset"),
        ("what?", "tag_charset"),
        ("tag,other", "tag_charset"),
        ('"quoted"', "tag_charset"),
        ("13800001001", "tag_number"),
        ("c1001_13800001001", "tag_number"),
        ("id_11010519491231002x", "tag_number"),
        ("验证码8848", "tag_number"),  # a code after its keyword: what the secret masking hides
    ],
)
def test_a_tag_that_cannot_be_one_is_refused_with_its_reason(typed: str, code: str) -> None:
    with pytest.raises(ReviewRefused) as refused:
        normalise_tag(typed)
    assert refused.value.code == code


def test_a_reviewer_sees_phone_numbers_and_secrets_masked() -> None:
    assert shown_text("我的号码是13900009999") == "我的号码是139****9999"
    assert "123456" not in shown_text("验证码是123456")
    assert shown_text(None) == "" and shown_text("how much do I owe") == "how much do I owe"


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("how much do I owe", "how much do I owe"),
        ("  two\nlines\r\nhere\u2028and\u2029there\x85end\x0bv\x0cf\x1ds  ", "two lines here and there end v f s"),
        ("tab\there", "tab here"),
        ("bell\x07 and nul\x00 and del\x7f", "bell and nul and del"),
        ("\ufeffbom and\u200bzero width", "bom andzero width"),
        ("[张伟](name) owes", "［张伟］(name) owes"),  # never read as an entity annotation
        ("/affirm", None),  # a button press
        ('  /choose{"option": "split_3"}', None),
        ("", None),
        ("\n \t", None),
    ],
)
def test_a_message_becomes_one_example_line(text: str, example: str | None) -> None:
    assert training_example(text) == example


NASTY = [
    "she said \"pay now\" & 'quickly'",
    "key: value # not a comment",
    "- starts like a list item",
    "| starts like a block > too",
    "{curly} and [square] brackets, %percent @at `tick` *star !bang",
    "null",
    "true",
    "123",
    "~",
    "C:\\path\\with\\backslashes \\n not a newline",
    "emoji 😀👨‍👩‍👧 and 中文，全角：冒号",
    "trailing colon:",
    "#hashtag first",
    "?question first",
    "'single quoted'",
    '"double quoted"',
    "a" * 2000,
]


def test_the_training_data_loads_back_in_rasa_exactly_as_marked(tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = {"out_of_scope": [training_example(t) or "" for t in NASTY], "greet": ["hi", "hi", "你好"]}
    text = nlu_yaml(examples, ["exported for a test", "second\nline of comment"])
    path = tmp_path / "nlu.yml"
    path.write_text(text, encoding="utf-8")
    loaded = [(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples]
    assert sorted(loaded) == sorted({(training_example(t), "out_of_scope") for t in NASTY} | {("hi", "greet"),
                                                                                            ("你好", "greet")})  # fmt: skip
    assert text.splitlines()[:4] == ["# exported for a test", "# second line of comment", 'version: "3.1"', "nlu:"]
    assert text.index("- intent: greet") < text.index("- intent: out_of_scope")  # intents sorted
    assert text.count("    - hi\n") == 1  # deduplicated


def test_the_training_data_refuses_a_line_that_is_no_example() -> None:
    with pytest.raises(ValueError, match="not a training example"):
        nlu_yaml({"greet": ["two\nlines"]})
    assert nlu_yaml({}) == 'version: "3.1"\nnlu: []\n'
    assert nlu_yaml({"greet": []}) == 'version: "3.1"\nnlu: []\n'


def test_every_outcome_tag_status_and_refusal_of_the_review_is_worded_in_both_languages() -> None:
    import re
    from pathlib import Path

    from bot.analytics.metrics import OUTCOMES
    from bot.console.app import console_config

    words = console_config()["words"]
    root = Path(__file__).resolve().parents[2] / "bot"
    sources = (root / "services" / "review.py").read_text(encoding="utf-8") + (root / "domain" / "review.py").read_text(
        encoding="utf-8"
    )
    codes = set(re.findall(r'ReviewRefused\("(\w+)"\)', sources)) | {"bad_date", "dates_reversed"}
    assert len(codes) >= 20  # the search saw the refusals
    configured = console_config()["review"]["tags"]
    assert [normalise_tag(t) for t in configured] == configured  # each configured tag is a valid one
    needed = (
        {f"review_outcome_{o}" for o in OUTCOMES}
        | {f"review_tag_{t}" for t in configured}
        | {f"review_status_{k}" for k in ("pause", "resume", "form_start", "form_end")}
        | {f"review_lang_{lang}" for lang in ("zh", "en")}
        | {f"review_error_{code}" for code in codes}
    )
    for language in ("zh", "en"):
        assert needed - set(words[language]) == set(), language
