"""A customer's contact preferences for overdue notices: no calls, and in-app or SMS.

They are stored per customer (``contact_preferences``) and the notice engine respects them where the
rules allow (bot.domain.notices.apply_preferences / decide_call): "no calls" means no call task ever
(the written notice still goes); "in_app" turns SMS into in-app messages and "sms" the other way,
except for the segments the policy keeps on SMS (``sms_kept_for_segments``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.domain.errors import ChannelNotOffered, CustomerNotFound
from bot.domain.model import ContactPreference
from bot.domain.notices import WRITTEN_CHANNELS
from bot.unit_of_work import UowFactory

#: What ``prefer`` may be set to: a written channel, or "none" to clear the preference.
PREFER_CHOICES = (*WRITTEN_CHANNELS, "none")


@dataclass(frozen=True)
class PreferencesView:
    customer_id: str
    no_calls: bool
    prefer: str | None
    updated_at: dt.datetime | None  # None: never set (the segment's channels apply)


def get_contact_preferences(uow_factory: UowFactory, customer_id: str) -> PreferencesView:
    """The customer's preferences (defaults when never set); CustomerNotFound for an unknown id."""
    with uow_factory() as uow:
        if uow.loans.customer(customer_id) is None:
            raise CustomerNotFound(customer_id)
        row = uow.contact_preferences.of(customer_id)
        if row is None:
            return PreferencesView(customer_id, False, None, None)
        return PreferencesView(customer_id, bool(row.no_calls), row.prefer, row.updated_at)


def set_contact_preferences(
    uow_factory: UowFactory,
    customer_id: str,
    now: dt.datetime,
    no_calls: bool | None = None,
    prefer: str | None = None,
) -> PreferencesView:
    """Record what the customer asked: ``no_calls`` True/False (None: unchanged), ``prefer`` in_app, sms
    or "none" to clear (None: unchanged). CustomerNotFound, ChannelNotOffered for bad input."""
    if prefer is not None and prefer not in PREFER_CHOICES:
        raise ChannelNotOffered(prefer)
    with uow_factory() as uow:
        if uow.loans.customer(customer_id) is None:
            raise CustomerNotFound(customer_id)
        row = uow.contact_preferences.of(customer_id)
        if row is None:
            row = ContactPreference(customer_id=customer_id, no_calls=False, prefer=None, updated_at=now)
            uow.contact_preferences.add(row)
        if no_calls is not None:
            row.no_calls = no_calls
        if prefer is not None:
            row.prefer = None if prefer == "none" else prefer
        row.updated_at = now
        view = PreferencesView(customer_id, bool(row.no_calls), row.prefer, row.updated_at)
        uow.commit()
        return view
