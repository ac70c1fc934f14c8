"""Errors a user can cause, named as facts. Actions turn them into helpful replies."""


class DomainError(Exception):
    """Base class of errors that end in a reply, not a stack trace."""


class CustomerNotFound(DomainError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r}")
        self.customer_id = customer_id


class RecordsUnavailable(DomainError):
    """The loan records cannot be read right now (database down or timing out)."""
