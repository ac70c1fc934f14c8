import pytest

from bot.domain.distress import CareContacts, in_distress, self_harm_risk
from bot.settings import get_settings


@pytest.mark.parametrize(
    ("text", "self_harm", "distress"),
    [
        ("我真的不想活了", True, False),
        ("还不上钱我就去跳楼", True, False),
        ("活著沒意思", True, False),  # Traditional
        ("sometimes I think I'd be better off dead", True, False),
        ("I want to kill myself", True, False),
        # Phrasings a first version missed (issue 14 review).
        ("i feel like killing myself honestly", True, False),
        ("i've thought about taking my own life", True, False),
        ("i've been thinking about ending it all", True, False),
        ("sometimes i think everyone would be better off without me", True, False),
        ("whats the point of living with this much debt", True, False),
        ("sometimes i wish i could go to sleep and never wake up", True, False),
        ("真的想一了百了", True, False),
        ("有时候站在楼顶就想跳下去算了", True, False),
        ("我还有什么脸活下去", True, False),
        ("我撑不下去了 想结束这一切", True, True),
        ("im really stressed, i havent slept in days", False, True),
        ("压力太大了 天天睡不着", False, True),
        ("我快崩溃了", False, True),
        ("I'm desperate, what can I do", False, True),
        ("我欠多少钱", False, False),
        ("how do I repay", False, False),
        ("这个app太难用了，烦死了", False, False),
    ],
)
def test_distress_and_self_harm_are_recognised_in_both_languages(text: str, self_harm: bool, distress: bool) -> None:
    assert self_harm_risk(text) is self_harm
    assert in_distress(text) is distress


def test_the_hotline_comes_from_config_with_its_source() -> None:
    path = get_settings().config_file("care.yml")
    assert CareContacts.from_file(path).psychological_hotline == "12356"
    assert "people.com.cn" in path.read_text(encoding="utf-8")  # where the number was checked
