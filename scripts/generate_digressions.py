"""Write the digression rules and their test stories: every in-scope question asked in the middle
of any form is answered, and every other task is met with how to switch to it; then the form
asks its pending question again.

    python scripts/generate_digressions.py          # rewrite data/rules/digressions.yml and
                                                    # tests/stories/test_digressions.yml
    python scripts/generate_digressions.py --check  # exit 1 if either is out of date (a test runs this)

The forms' slot mappings must not take these questions as answers: their ``not_intent`` lists
include every intent of ``digressions(form)`` (tests/unit/test_digressions.py checks that too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "data" / "rules" / "digressions.yml"
STORIES = ROOT / "tests" / "stories" / "test_digressions.yml"

#: In-scope questions and what answers them outside a form (data/rules/loans.yml, common.yml).
QUESTIONS = {
    "ask_why_texts": "action_explain_texts",
    "ask_amount_due": "action_tell_amount_due",
    "ask_how_to_repay": "action_explain_repayment",
    "already_repaid": "action_check_repayment",
    "ask_late_fee_rule": "action_explain_fee_rule",
    "ask_credit_impact": "utter_ask_credit_impact",
    "setup_autopay": "utter_setup_autopay",
    "bot_challenge": "utter_iamabot",
    "ask_partial_payment": "action_explain_partial_payment",
    "ask_case_status": "action_case_status",
    "change_phone": "action_explain_phone_change",
    "report_old_number": "action_explain_old_number",
    "ask_report_police": "action_police_guidance",
    "ask_consequences": "action_explain_consequences",
}
#: Said in the middle of a form, distress gets a calm word and the form goes on (outside a form it
#: gets the hardship options and the care question, data/rules/care.yml).
COMFORT = {"express_distress": "action_comfort"}
#: Slots for which such a message is also the answer: "lost my job, I'm so stressed" is a reason.
ALSO_ANSWERS = {"ext_reason": {"express_distress"}}
#: Other tasks: asked for in the middle of a form, the assistant says how to switch (cancel, then
#: ask) and asks its pending question again; it never starts a second record on its own.
TASKS = ("request_extension", "report_scam", "never_borrowed", "verify_sms", "complain")
#: A question as customers ask it, per intent and language, for the test stories.
EXAMPLES = {
    "ask_why_texts": ("为什么一直给我发逾期短信", "why do you keep texting me"),
    "ask_amount_due": ("我现在一共欠多少", "how much do I owe right now"),
    "ask_how_to_repay": ("在哪里还款", "where can I repay"),
    "already_repaid": ("我昨天已经还了", "I already paid yesterday"),
    "ask_late_fee_rule": ("罚息是怎么算的", "how is the late fee calculated"),
    "ask_credit_impact": ("会影响征信吗", "will this hurt my credit report"),
    "setup_autopay": ("怎么设置自动还款", "how do I set up autopay"),
    "bot_challenge": ("你是机器人吗", "am I talking to a bot"),
    "ask_partial_payment": ("我先还一部分行不行", "can I pay part of it now"),
    "ask_case_status": ("我的申请处理得怎么样了", "what's the status of my case"),
    "change_phone": ("手机号怎么改", "how do I change my phone number"),
    "report_old_number": ("我以前的号码被别人用了", "my old number belongs to someone else now"),
    "ask_report_police": ("要不要报警", "should I call the police"),
    "ask_consequences": ("如果我不还会怎样", "what happens if I don't pay"),
    "express_distress": ("压力好大 睡不着", "im really stressed, i havent slept in days"),
    "request_extension": ("我想申请延期还款", "can I get more time to pay"),
    "report_scam": ("有人冒充你们让我转账", "someone pretending to be you asked me for money"),
    "never_borrowed": ("这笔贷款不是我借的", "this loan is not mine"),
    "verify_sms": ("这条短信是你们发的吗", "is this text really from you"),
    "complain": ("你们催收太过分了", "your collectors are harassing me"),
}

#: Each form: how a conversation gets into it (test stories) and the questions it asks.
FORMS = {
    "extension_form": {
        "start": [
            {"user": ("我想申请延期还款", "can I get more time to pay"), "intent": "request_extension"},
            {"action": "action_prepare_extension"},
            {"slot_was_set": [{"ext_stage": "form"}]},
        ],
        "steps": ["ext_loan_id", "ext_reason", "ext_option", "ext_confirmed"],
        "task": "request_extension",
    },
    "scam_report_form": {
        "start": [
            {
                "user": ("有人冒充你们客服让我下载软件", "someone pretending to be your staff called me"),
                "intent": "report_scam",
            },
            {"action": "action_prepare_scam_report"},
            {"slot_was_set": [{"scam_stage": "ask"}]},
        ],
        "steps": ["scam_money_sent", "scam_consent"],
        "task": "report_scam",
    },
    "never_borrowed_form": {
        "start": [
            {"user": ("我从来没借过钱", "I never borrowed any money"), "intent": "never_borrowed"},
            {"action": "action_prepare_never_borrowed"},
            {"slot_was_set": [{"nb_stage": "form"}]},
        ],
        "steps": ["nb_consent", "nb_phone"],
        "task": "never_borrowed",
    },
    "complaint_form": {
        "start": [
            {"user": ("你们的催收电话太烦人了", "your collectors are harassing me"), "intent": "complain"},
            {"action": "action_prepare_complaint"},
            {"slot_was_set": [{"complaint_stage": "ask"}]},
        ],
        "steps": ["complaint_consent"],
        "task": "complain",
    },
}


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def other_tasks(form: str) -> list[str]:
    """The tasks that are not this form's own (its own intent mid-form is an answer, not a switch)."""
    return [t for t in TASKS if t != FORMS[form]["task"]]


def digressions(form: str) -> dict[str, str]:
    """Every intent answered in the middle of ``form``, with the action that answers it."""
    return {**QUESTIONS, **COMFORT, **{task: "action_offer_switch" for task in other_tasks(form)}}


def rules_yaml() -> str:
    out = [
        'version: "3.1"',
        "",
        "# GENERATED by scripts/generate_digressions.py: edit the script, then run it.",
        "# An in-scope question in the middle of a form is answered, then the form asks again.",
        "",
        "rules:",
    ]
    for form in FORMS:
        for intent, answer in digressions(form).items():
            out += [
                f"  - rule: {intent} during {form}",
                "    condition:",
                f"      - active_loop: {form}",
                "    steps:",
                f"      - intent: {intent}",
                f"      - action: {answer}",
                f"      - action: {form}",
                f"      - active_loop: {form}",
                "",
            ]
    return "\n".join(out).rstrip() + "\n"


def stories_yaml() -> str:
    out = [
        'version: "3.1"',
        "",
        "# GENERATED by scripts/generate_digressions.py: every form x step x in-scope question, in",
        "# both languages (alternating): the question is answered and the form goes on.",
        "",
        "stories:",
    ]
    n = 0
    for form, spec in FORMS.items():
        for step in spec["steps"]:
            for intent, answer in digressions(form).items():
                lang = n % 2
                n += 1
                out += [f"  - story: {intent} at {step} of {form} ({'zh' if lang == 0 else 'en'})", "    steps:"]
                for item in spec["start"]:
                    if "user" in item:
                        out += [f"      - user: {_q(item['user'][lang])}", f"        intent: {item['intent']}"]
                    elif "action" in item:
                        out += [f"      - action: {item['action']}"]
                    else:
                        out += ["      - slot_was_set:"] + [
                            f"          - {k}: {v}" for slot in item["slot_was_set"] for k, v in slot.items()
                        ]
                out += [
                    f"      - action: {form}",
                    f"      - active_loop: {form}",
                    "      - slot_was_set:",
                    f"          - requested_slot: {step}",
                    f"      - user: {_q(EXAMPLES[intent][lang])}",
                    f"        intent: {intent}",
                    f"      - action: {answer}",
                    f"      - action: {form}",
                    f"      - active_loop: {form}",
                ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args()
    wanted = {RULES: rules_yaml(), STORIES: stories_yaml()}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run python scripts/generate_digressions.py", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.write_text(wanted[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
