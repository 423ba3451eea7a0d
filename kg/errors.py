"""Errors a user can cause. Each one prints as a single line and exits with ``exit_code``."""


class KgnluError(Exception):
    """Base class: an expected failure with a one-line, user-facing message."""

    exit_code = 2


class InputError(KgnluError):
    """A file or argument that cannot be used: missing, unreadable, malformed, hostile."""


class ParseError(InputError):
    """Content that does not parse in the format it claims (or was sniffed) to be."""


class UnsafeInputError(InputError):
    """Content that would make a parser fetch or expand things: XXE, entity bombs."""


class InconsistentOntologyError(KgnluError):
    """Reasoning found the KG inconsistent or some classes unsatisfiable; nothing was written."""

    def __init__(self, message: str, unsatisfiable: list[str] | None = None, axioms: list[str] | None = None):
        super().__init__(message)
        self.unsatisfiable = unsatisfiable or []
        self.axioms = axioms or []


class StoreError(KgnluError):
    """The KG directory is missing, locked by another process, or was built by another version."""


class ReasonerError(KgnluError):
    """A reasoner could not run (no Java, wrong Java version, out of budget)."""


class InterruptedAfterWrite(KgnluError):
    """Interrupted (Ctrl-C, SIGTERM) after a write was committed, while deriving caches from it:
    the KG holds the write, and the caches are rebuilt on first use."""

    exit_code = 130
