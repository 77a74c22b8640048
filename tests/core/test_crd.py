"""The generated CRD: the committed file is current, and the schema is one the API server accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.crd import custom_resource_definition, render_crd_yaml

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "slo.mlops.dev_servicelevelobjectives.yaml"
FORBIDDEN = ("$ref", "$defs", "anyOf", "allOf", "oneOf", "const", "title")


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return custom_resource_definition()


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    (only,) = crd["spec"]["versions"]
    result: dict[str, Any] = only
    return result


@pytest.fixture(scope="module")
def root(version: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schema_nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (properties, items, additionalProperties), with a readable path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}")
    if "items" in node:
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}{{}}")


def all_keys(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key
            yield from all_keys(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from all_keys(value, f"{path}[{i}]")


# ---- drift ----------------------------------------------------------------------------------------------


def test_committed_crd_is_current() -> None:
    assert CRD_FILE.read_text() == render_crd_yaml(), (
        f"{CRD_FILE.relative_to(REPO)} is out of date with slo_operator.api: run make crds"
    )


def test_rendering_is_stable() -> None:
    assert render_crd_yaml() == render_crd_yaml()
    assert yaml.safe_load(render_crd_yaml()) == custom_resource_definition()


# ---- structural schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", FORBIDDEN)
def test_no_non_structural_keywords(root: dict[str, Any], keyword: str) -> None:
    found = [path or "/" for path, key in all_keys(root) if key == keyword]
    assert not found, f"{keyword!r} at {found}"


def test_every_node_has_a_type_or_preserves_unknown_fields(root: dict[str, Any]) -> None:
    for path, node in schema_nodes(root):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path


def undescribed(node: dict[str, Any], path: str) -> list[str]:
    """Properties (and object items) without a description; scalar list items and map values need none."""
    return [
        p
        for p, n in schema_nodes(node, path)
        if not n.get("description") and not (p.endswith(("[]", "{}")) and n.get("type") != "object")
    ]


def test_every_spec_property_has_a_description(root: dict[str, Any]) -> None:
    missing = undescribed(root["properties"]["spec"], "spec")
    assert not missing, f"no description (kubectl explain would be empty): {missing}"
    assert len(list(schema_nodes(root["properties"]["spec"]))) > 40  # the walk really descends


def test_every_status_property_has_a_description(root: dict[str, Any]) -> None:
    assert not undescribed(root["properties"]["status"], "status")


def test_numeric_bounds_are_numbers(root: dict[str, Any]) -> None:
    # OpenAPI v3.0: minimum/maximum are numbers, exclusiveMinimum/exclusiveMaximum are booleans.
    for path, node in schema_nodes(root):
        for key in ("minimum", "maximum"):
            if key in node:
                assert isinstance(node[key], int | float) and not isinstance(node[key], bool), (
                    path,
                    key,
                    node[key],
                )
        for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if key in node:
                assert node[key] is True, (path, key)
                assert bound in node, (path, key)


@pytest.mark.parametrize(
    ("path", "minimum", "maximum"),
    [
        ("spec.objective", 0, 100),
        ("spec.timeslices.goal", 0, None),
        ("spec.alerting.burnRates[].budgetPercent", 0, None),
    ],
)
def test_bounds_of_percentages(
    root: dict[str, Any], path: str, minimum: float, maximum: float | None
) -> None:
    nodes = dict(schema_nodes(root["properties"]["spec"], "spec"))
    node = nodes[path]
    assert node["minimum"] == minimum and node["exclusiveMinimum"] is True
    assert node["maximum"] == 100
    if maximum is not None:
        assert node["exclusiveMaximum"] is True


def test_no_object_defaults(root: dict[str, Any]) -> None:
    for path, node in schema_nodes(root):
        assert not isinstance(node.get("default"), dict | list), path


def test_scalar_defaults_are_kept(root: dict[str, Any]) -> None:
    spec = root["properties"]["spec"]["properties"]
    assert spec["window"]["default"] == "30d"
    assert spec["timeslices"]["properties"]["sliceSize"]["default"] == "5m"


def test_required_fields(root: dict[str, Any]) -> None:
    spec = root["properties"]["spec"]
    assert set(spec["required"]) == {"service", "objective", "indicator"}
    assert root["required"] == ["spec"]


def test_cel_validations(root: dict[str, Any]) -> None:
    spec = root["properties"]["spec"]
    indicator = spec["properties"]["indicator"]
    burn_items = spec["properties"]["alerting"]["properties"]["burnRates"]["items"]
    ratio = indicator["properties"]["ratio"]
    for node in (spec, indicator, burn_items, ratio):
        rules = node.get("x-kubernetes-validations")
        assert rules, node.get("description")
        for rule in rules:
            assert rule["rule"] and rule["message"]
    assert "size() == 1" in indicator["x-kubernetes-validations"][0]["rule"]
    assert "shortWindow" in burn_items["x-kubernetes-validations"][0]["rule"]
    # CEL's duration() has no d/w units: windows must not be passed to it.
    for _, node in schema_nodes(root):
        for rule in node.get("x-kubernetes-validations", []):
            assert "duration(" not in rule["rule"]


def test_windows_are_patterned(root: dict[str, Any]) -> None:
    nodes = dict(schema_nodes(root["properties"]["spec"], "spec"))
    for path in (
        "spec.window",
        "spec.alerting.burnRates[].longWindow",
        "spec.alerting.burnRates[].shortWindow",
        "spec.indicator.freshness.maxAge",
        "spec.timeslices.sliceSize",
    ):
        assert nodes[path]["pattern"] == "^[1-9][0-9]{0,5}(w|d|h|m|s)$", path
        assert nodes[path]["maxLength"] == 8, path


# ---- names, columns, subresources -----------------------------------------------------------------------


def test_names(crd: dict[str, Any]) -> None:
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == "servicelevelobjectives.slo.mlops.dev"
    assert crd["spec"]["group"] == "slo.mlops.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert names["kind"] == "ServiceLevelObjective"
    assert names["plural"] == "servicelevelobjectives"
    assert "slo" in names["shortNames"]
    assert names["categories"]


def test_printer_columns(version: dict[str, Any], root: dict[str, Any]) -> None:
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    for name in ("Objective", "Window", "SLI", "Budget", "Burn", "State", "Age"):
        assert name in columns
        assert columns[name].get("priority", 0) == 0, f"{name} should show without -o wide"
    assert columns["Age"]["jsonPath"] == ".metadata.creationTimestamp"
    # Every .spec/.status column points at a field that exists in the schema.
    for column in columns.values():
        path = column["jsonPath"]
        if not path.startswith((".spec.", ".status.")) or "[" in path:
            continue
        node = root
        for part in path.strip(".").split("."):
            assert part in node.get("properties", {}), f"column {column['name']}: {path}"
            node = node["properties"][part]


def test_version_and_status_subresource(version: dict[str, Any]) -> None:
    assert version["name"] == "v1alpha1"
    assert version["served"] is True and version["storage"] is True
    assert version["subresources"] == {"status": {}}


def test_status_conditions_are_a_map_list(root: dict[str, Any]) -> None:
    conditions = root["properties"]["status"]["properties"]["conditions"]
    assert conditions["type"] == "array"
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]
