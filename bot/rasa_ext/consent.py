"""An intent that acts is acted on only when the NLU is confident; otherwise the customer is asked.

Complaints, handoffs, scam reports, "I never borrowed" and SMS checks open a case, a ticket or a
form (issue 15). A message the classifier puts there with a confidence below
``threshold`` (chosen on the dev splits of the real question sets: ``scripts/sweep_consent.py``,
README "NLU") is answered by ``action_confirm_act`` ("想先确认一下：您说的是「投诉催收」吗？" with
yes / no buttons) instead of the intent's rule. The "yes" button sends the intent itself (a
``/intent`` payload, confidence 1.0); a typed "是" / "yes" is handled by ``action_act_on_consent``,
which puts the customer's message back as that intent at 1.0, so the intent's own rules run.

Inside a form nothing changes: another task asked for there is already only offered
(``action_offer_switch``), never started. Below the fallback threshold the FallbackClassifier's
question comes first, as before.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.extension_answers import is_question

ASK_ACTION = "action_confirm_act"
#: Intents whose rules open a form, a case or a ticket (data/rules/; scripts/eval_real.py ACTING).
#: ``request_extension`` is not among them: its form asks the reason first and records nothing until
#: the customer confirms the plan ("确认办理"), and short requests such as "申请延期" (0.53) were asked
#: about twice over (tests/conversations).
ACTING_INTENTS = ("complain", "request_human", "report_scam", "never_borrowed", "verify_sms")


def asks_first(
    intent: str | None, confidence: float | None, text: str, threshold: float, intents: frozenset[str]
) -> bool:
    """Whether a message with this intent is asked about before its task starts. A worried question
    taken as a complaint ("will your collectors call my boss?") is not: the complaint flow answers it
    and records nothing (actions/handoff.py ActionPrepareComplaint)."""
    if intent not in intents or confidence is None or float(confidence) >= threshold:
        return False
    return not (intent == "complain" and is_question(text))


def needs_consent(tracker: DialogueStateTracker, threshold: float, intents: frozenset[str]) -> bool:
    """The customer's latest message, just received outside any form, is an acting intent the NLU is
    not confident of."""
    if tracker.latest_action_name != ACTION_LISTEN_NAME or tracker.active_loop_name:
        return False
    message = tracker.latest_message
    intent = message.intent if message else {}
    text = str(message.text or "") if message else ""
    return asks_first(intent.get("name"), intent.get("confidence"), text, threshold, intents)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class ActingConsentPolicy(Policy):
    """Predicts ``action_confirm_act`` for a not-confident acting intent (above RulePolicy's
    priority, so its rule does not run), and listening after it. Predicts nothing otherwise."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.65, "intents": list(ACTING_INTENTS), "priority": 7}

    def __init__(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, *args, **kwargs)
        self.threshold = float(config["threshold"])
        self.intents = frozenset(config["intents"])

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if needs_consent(tracker, self.threshold, self.intents):
            probabilities[domain.index_for_action(ASK_ACTION)] = 1.0
        elif tracker.latest_action_name == ASK_ACTION:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        return self._prediction(probabilities)
