"""The package docstrings' module maps list every module, so a newcomer's map is never out of date."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import slo_operator
from slo_operator import indicators, reports


def _modules(package_path: list[str] | str) -> set[str]:
    paths = [package_path] if isinstance(package_path, str) else list(package_path)
    return {info.name for info in pkgutil.iter_modules(paths)}


def _named(docstring: str | None) -> set[str]:
    return set(re.findall(r"``(\w+)``", docstring or ""))


def test_top_level_map_lists_every_module_and_package() -> None:
    missing = _modules(slo_operator.__path__) - _named(slo_operator.__doc__)
    assert not missing, f"add {sorted(missing)} to the module map in operator/slo_operator/__init__.py"


def test_reports_map_lists_every_module() -> None:
    missing = _modules(reports.__path__) - _named(reports.__doc__)
    assert not missing, f"add {sorted(missing)} to the module map in slo_operator/reports/__init__.py"


def test_indicator_modules_are_the_registered_kinds() -> None:
    kinds = {kind.name for kind in indicators.KINDS}
    assert _modules(indicators.__path__) == {"base", *kinds}, "one module per indicator kind, plus base"
    assert Path(indicators.__file__).parent.name == "indicators"
