"""Shared fixtures. Helpers that tests import live in `casekit.py` beside this file (pytest puts this folder
on sys.path because it holds a conftest.py and no __init__.py).

The suite never reads ../shared: the example cases are copied into tests/cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from b12plan.domain.products import Catalogue
from b12plan.domain.rules import RuleSet
from b12plan.rulebook import load_catalogue, load_ruleset, ruleset_ids
from b12plan.schemas import json_schema

# Planning is pure but its first call builds the unit registry (~0.3 s): a wall-clock deadline only makes
# property tests flaky. Example counts stay modest so the suite stays fast.
settings.register_profile(
    "b12plan", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("b12plan")


@pytest.fixture(scope="session")
def rulesets() -> dict[str, RuleSet]:
    """Every shipped rule set by id."""
    return {rid: load_ruleset(rid) for rid in ruleset_ids()}


@pytest.fixture(scope="session")
def nice() -> RuleSet:
    return load_ruleset("nice-ng239")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def plan_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema("plan"))


@pytest.fixture(scope="session")
def case_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema("case"))


@dataclass(frozen=True)
class Run:
    """One CLI invocation's outcome."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes

    @property
    def all_output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli() -> Callable[..., Run]:
    """Run `b12plan ARGS...` in-process (typer's CliRunner); `input` is stdin text."""
    from b12plan.cli.main import app  # imported here: only the CLI tests need the CLI to import

    runner = CliRunner()

    def run(*args: Any, input: str | None = None) -> Run:
        result = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    return run
