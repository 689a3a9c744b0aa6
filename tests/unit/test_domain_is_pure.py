"""The domain package stays pure: no web, database, e-mail, scheduler or network import, and no clock (STYLE.md 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import coverage_tracker.domain

DOMAIN = Path(coverage_tracker.domain.__file__).parent
FORBIDDEN_MODULES = frozenset(
    {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "smtplib", "email", "apscheduler", "requests", "httpx"}
)
CLOCK_READS = frozenset({("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("time", "time")})


def impurities(source: str) -> list[str]:
    """Forbidden imports and clock reads in one module's source, each with its line number."""
    found: list[str] = []
    tree = ast.parse(source)
    imported_names = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            root = node.module.split(".")[0]
            if root in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if (node.module.split(".")[-1], alias.name) in CLOCK_READS:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute):
            owner = node.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else None
            if owner_name is not None and (imported_names.get(owner_name, owner_name), node.attr) in CLOCK_READS:
                found.append(f"line {node.lineno}: {owner_name}.{node.attr}")
    return found


MODULES = sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_has_modules_to_check():
    assert {p.name for p in MODULES} >= {"engine.py", "events.py", "history.py", "policy.py", "reasons.py"}


@pytest.mark.parametrize("module", MODULES, ids=[str(p.relative_to(DOMAIN)) for p in MODULES])
def test_a_domain_module_imports_no_infrastructure_and_reads_no_clock(module: Path):
    assert impurities(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import fastapi",
        "from sqlalchemy.orm import Session",
        "import email.message",
        "from email.message import EmailMessage",
        "import smtplib as mail",
        "import httpx, json",
        "from apscheduler.schedulers.background import BackgroundScheduler",
        "from datetime import date\ntoday = date.today()",
        "import datetime\nnow = datetime.datetime.now()",
        "from datetime import datetime as dt\nwhen = dt.utcnow()",
        "import time\nstarted = time.time()",
        "from time import time",
        "from datetime import date\nclock = date.today",
    ],
)
def test_the_check_catches_an_impure_module(source: str):
    assert impurities(source)


def test_the_check_lets_pure_date_arithmetic_through():
    source = "from datetime import date, timedelta\nfrom .policy import MEDICARE\nend = date(2021, 2, 28) + timedelta(days=1)\n"
    assert impurities(source) == []
