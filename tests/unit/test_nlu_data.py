"""Training data keeps its promises: every contract intent, enough distinct examples, evaluation kept apart."""

import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot.rasa_ext.action_server import load_domain

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_INTENTS = {
    "ask_why_texts",
    "ask_amount_due",
    "ask_how_to_repay",
    "request_extension",
    "already_repaid",
    "never_borrowed",
    "verify_sms",
    "report_scam",
    "ask_late_fee_rule",
    "ask_credit_impact",
    "setup_autopay",
    "request_human",
    "complain",
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "inform",
    "out_of_scope",
}
SMALL_TALK = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "inform", "out_of_scope"}
DOMAIN_INTENTS = CONTRACT_INTENTS - SMALL_TALK


def examples(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (line.strip()[2:].strip(), block["intent"])
        for block in data["nlu"]
        if "intent" in block
        for line in block["examples"].splitlines()
        if line.strip().startswith("- ")
    ]


def fingerprint(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def training(language: str) -> list[tuple[str, str]]:
    return [e for p in sorted((ROOT / "data" / "nlu").glob(f"{language}*.yml")) for e in examples(p)]


def test_the_domain_declares_exactly_the_trained_intents_and_all_contract_intents():
    domain = set(load_domain(ROOT / "domain")["intents"])
    trained = {i for lang in ("zh", "en") for _, i in training(lang)}
    assert CONTRACT_INTENTS <= domain and domain == trained


def test_each_domain_intent_has_at_least_40_distinct_examples_per_language():
    for language in ("zh", "en"):
        per_intent = defaultdict(set)
        for text, intent in training(language):
            per_intent[intent].add(fingerprint(text))
        short = {i: len(per_intent[i]) for i in DOMAIN_INTENTS if len(per_intent[i]) < 40}
        assert short == {}, language


def test_no_training_example_is_repeated_or_labelled_twice():
    for language in ("zh", "en"):
        examples_ = training(language)
        counts = Counter(t for t, _ in examples_)
        assert [t for t, n in counts.items() if n > 1] == [], language
        labels = defaultdict(set)
        for text, intent in examples_:
            labels[fingerprint(text)].add(intent)
        assert {k: v for k, v in labels.items() if len(v) > 1} == {}, language


def test_the_training_data_mixes_traditional_chinese_code_mixing_and_emoji():
    zh = [t for t, _ in training("zh")]
    traditional = [t for t in zh if re.search("[們為麼還錢簡訊這個說嗎貸款會]", t)]
    code_mixed = [t for t in zh if re.search(r"[A-Za-z]{3,}", t)]
    emoji = [t for t in zh + [t for t, _ in training("en")] if re.search("[\U0001f300-\U0001faff]", t)]
    assert len(traditional) >= 50 and len(code_mixed) >= 50 and len(emoji) >= 20


def test_evaluation_sets_are_not_read_by_training():
    config = (ROOT / "config.yml").read_text(encoding="utf-8")
    assert "nlu_holdout" not in config and "nlu_test" not in config
    assert not list((ROOT / "data").rglob("*holdout*")) and not list((ROOT / "data").rglob("*nlu_test*"))
