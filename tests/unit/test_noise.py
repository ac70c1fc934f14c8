import pytest

from bot.domain.noise import is_gibberish, is_noise


@pytest.mark.parametrize(
    ("text", "noise"),
    [
        ("qwxz plmk vbnr", True),
        ("asdfgh qwerty zxcv", True),
        ("'; DROP TABLE loans; --", True),
        ("SELECT * FROM customers", True),
        ("😀😀😀", True),
        ("？？？", True),
        ("12345", True),
        ("", True),
        ("how much do i owe", False),
        ("what is the dow today", False),
        ("呃呃啊啊哦哦", False),
        ("我想问一下那个东西", False),
        ("L1001", False),
        ("ok", False),
    ],
)
def test_noise_is_told_apart_from_an_attempt_to_say_something(text: str, noise: bool) -> None:
    assert is_noise(text) is noise


@pytest.mark.parametrize(
    ("text", "gibberish"),
    [
        ("qwxz plmk", True),
        ("thx u", False),  # a chat word, not mash
        ("sms pls", False),
        ("'; DROP TABLE loans; --", False),  # code is left to the classifier
        ("is this real? -- I paid already", False),
        ("🙃🙃", False),  # noise, but an emoji can answer a question
        ("2", False),
        ("ok", False),
        ("thanks", False),
        ("how much do i owe", False),
        ("qwxz 我欠多少", False),
    ],
)
def test_gibberish_is_keyboard_mash_never_an_answer(text: str, gibberish: bool) -> None:
    assert is_gibberish(text) is gibberish
