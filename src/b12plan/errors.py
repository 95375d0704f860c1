"""One exception tree for b12plan.

    B12planError                      base of everything we raise on purpose
    ├── UserError (ValueError)        the user's input cannot be used; exit code 2, no traceback
    │   ├── CaseError                 one or more `field: problem` items in a case
    │   ├── UnknownRulesetError       a rule set id that is not shipped
    │   ├── UnknownProductError       a product id that is not in the catalogue
    │   ├── UnknownPatientError       a patient id that is not in the record store
    │   └── UnknownAccountError       a username that no account has
    ├── AccessError (PermissionError) the acting user may not do this (web app and API)
    │   ├── NotSignedInError          no valid session or token: 401, or the sign-in page
    │   └── ForbiddenError            signed in, but not theirs to see or do: 403
    └── DataError (RuntimeError)      a shipped data file is wrong: a bug in b12plan, exit code 3

User errors name the field and the problem; they never carry patient values beyond what the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccessError",
    "B12planError",
    "CaseError",
    "DataError",
    "FieldProblem",
    "ForbiddenError",
    "NotSignedInError",
    "UnknownAccountError",
    "UnknownPatientError",
    "UnknownProductError",
    "UnknownRulesetError",
    "UserError",
]


class B12planError(Exception):
    """Base of every error b12plan raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class FieldProblem:
    """One refusal: where in the input (`labs[0].unit`) and what is wrong with it."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}" if self.field else self.problem


class UserError(B12planError, ValueError):
    """Input that b12plan refuses; the message is meant for the person who typed it."""

    exit_code = 2

    def __init__(self, problems: list[FieldProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [FieldProblem("", problems)]
        self.problems: list[FieldProblem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class CaseError(UserError):
    """A case (the clinical picture) that cannot be planned."""


class UnknownRulesetError(UserError):
    """A rule set id that b12plan does not ship."""


class UnknownProductError(UserError):
    """A product id that is not in the product catalogue."""


class UnknownPatientError(UserError):
    """A patient id (the pseudonymous reference) that the record store does not hold."""


class UnknownAccountError(UserError):
    """A username that no web or API account has."""


class AccessError(B12planError, PermissionError):
    """The acting user (an `accounts.Actor`, or nobody) may not do this. Raised by the services, which hold
    the access checks; the message names what was refused, never another patient's data."""

    exit_code = 2

    def __init__(self, problem: str, *, field: str = "") -> None:
        self.problems: list[FieldProblem] = [FieldProblem(field, problem)]
        super().__init__(str(self.problems[0]))


class NotSignedInError(AccessError):
    """No valid session or token: sign in first."""


class ForbiddenError(AccessError):
    """Signed in, but the record or action is not this user's to see or do."""


class DataError(B12planError, RuntimeError):
    """A shipped rule or product file is invalid. This is a bug in b12plan, not the user's fault."""

    exit_code = 3
