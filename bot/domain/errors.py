"""The two families of errors that end in a reply instead of a stack trace.

``UserError``: what the customer asked cannot be done, named as a fact (an unknown loan, an
option that was not offered, nothing overdue, a malformed phone number). Each has its own
reply, which says what to do next; none of them is ever answered with "system unavailable".

``Outage``: a component the bot depends on is down (the records database). The reply
apologises and points to the hotline; nothing the customer confirmed is lost.
"""


class UserError(Exception):
    """Base class of errors the user's request caused."""


class CustomerNotFound(UserError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r}")
        self.customer_id = customer_id


class LoanNotFound(UserError):
    """The loan is not one of this customer's loans."""


class NothingOverdue(UserError):
    """The customer (or the chosen loan) has no overdue instalment to reschedule."""


class OptionNotOffered(UserError):
    """The chosen extension option is not one the policy offers."""


class InvalidPhoneNumber(UserError):
    """Not a mainland China mobile number (11 digits starting with 1)."""


class NoLoanToDispute(UserError):
    """The customer has no loan with that id to dispute."""


class Outage(Exception):
    """Base class of failures of something the bot depends on; never the user's fault."""


class RecordsUnavailable(Outage):
    """The loan records cannot be read or written right now (database down or timing out)."""


class ChannelNotOffered(ValueError):
    """A contact preference names a channel written notices do not go on (only in_app or sms).

    Bad input to a staff tool (``notices preferences``), not a UserError: no customer's request can
    set a preference, so the assistant has no reply for it."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"no written-notice channel {channel!r}: choose in_app, sms or none")
        self.channel = channel
