"""Services queue Celery tasks by registered name, so that no service imports a tasks module
(tasks call services, never the reverse). A misspelt name fails at once, never as a warning
left to a sweep."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from piaogen import queueing

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "cards", "invoices", "support", "piaogen")
NAME = re.compile(r"^(accounts|cards|invoices|support)\.tasks\.[a-z_]+$")


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _task_names() -> set[str]:
    """Every string literal of the code that names a task module's function."""
    names = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.match(node.value):
                names.add(node.value)
    return names


def test_no_module_but_a_tasks_module_imports_a_tasks_module():
    offenders = []
    for path in _modules():
        if path.name == "tasks.py" or path.name == "celery.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = (node.module or "").split(".")
                named = [alias.name for alias in node.names]
                if "tasks" in target or (not node.module or target[-1] in APPS) and "tasks" in named:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(a.name.endswith(".tasks") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_task_name_the_code_queues_is_a_registered_task():
    names = _task_names()
    # the names the services use today, so that this test cannot pass on finding none
    assert {"invoices.tasks.issue_application", "invoices.tasks.render_invoices", "accounts.tasks.sms_send"} <= names
    for name in names:
        assert queueing.task_named(name).name == name


def test_an_unknown_name_raises_and_is_not_left_to_a_sweep(caplog):
    with pytest.raises(KeyError):
        queueing.enqueue("invoices.tasks.no_such_task", 1, what="nothing")
    assert "could not be queued" not in caplog.text


def test_a_broker_refusal_is_a_warning_and_false(monkeypatch, caplog):
    task = queueing.task_named("invoices.tasks.issue_application")

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("the broker is down")

    monkeypatch.setattr(task, "delay", refuse)
    assert queueing.enqueue("invoices.tasks.issue_application", 7, what="application 7: issuing") is False
    assert "application 7: issuing could not be queued" in caplog.text
