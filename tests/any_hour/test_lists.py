"""The any-hour pass's list of clock-sensitive tests names only tests that exist: a module
renamed or a test removed would otherwise drop out of the pass without a word."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

LIST = ROOT / "tests" / "any_hour" / "clock-sensitive.txt"


def entries() -> list[str]:
    lines = (line.strip() for line in LIST.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_every_line_of_the_clock_sensitive_list_names_a_test_module_or_test() -> None:
    missing = []
    for entry in entries():
        path, _, test = entry.partition("::")
        module = ROOT / path
        if not (module.is_file() and module.name.startswith("test_")):
            missing.append(f"{entry}: no test module {path}")
            continue
        if test:
            defined = {
                node.name
                for node in ast.walk(ast.parse(module.read_text()))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            if test.split("[")[0] not in defined:
                missing.append(f"{entry}: {path} defines no {test.split('[')[0]}")
    assert entries(), f"{LIST} lists no test"
    assert not missing, "\n".join(missing)
