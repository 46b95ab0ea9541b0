"""The specification files validate, agree with each other and cover the seed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from renkei_conformance.spec import load_catalog, load_problems, load_vectors

from .conftest import ROOT

SPECS = ROOT / "specs"
VECTOR_FILES = sorted(p.stem for p in (SPECS / "vectors").glob("*.json"))


def test_catalog_covers_every_seed_item_in_english_and_japanese() -> None:
    catalog = load_catalog()
    assert {i for r in catalog for i in r.seed_items} == set(range(1, 34))
    for r in catalog:
        assert r.text_en.strip(), r.id
        assert r.text_ja.strip(), r.id
        assert r.level in r.text_en, f"{r.id}: the English text does not use its level word"
        assert r.rationale.strip(), r.id
        assert set(r.profiles) <= set(catalog.profiles), r.id


def test_openapi_document_is_valid_openapi_3_1() -> None:
    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_operation_names_known_requirements_and_a_profile() -> None:
    catalog = load_catalog()
    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            where = f"{method.upper()} {path}"
            assert op.get("x-renkei-profile"), where
            assert set(op.get("x-renkei-requirements", [])) <= set(catalog.requirements), where


def test_every_problem_slug_the_reference_raises_is_registered() -> None:
    problems = load_problems()
    raised: set[str] = set()
    for path in (ROOT / "reference").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        raised |= set(re.findall(r'Error\(\s*"([a-z0-9-]+)"', text))
        raised |= set(re.findall(r'problem_response\([^,]+,\s*"([a-z0-9-]+)"', text))
    raised |= set(
        re.findall(
            r'= "([a-z-]+)"',
            (ROOT / "reference/renkei_reference/core/patterns.py").read_text(encoding="utf-8"),
        )
    )
    assert raised
    missing = sorted(raised - set(problems))
    assert not missing, f"problem types not in specs/problems.yaml: {missing}"


def test_every_requirement_the_reference_names_on_a_problem_is_one_its_type_admits() -> None:
    """problems.yaml: an instance names its type's requirement or one listed under
    ``also`` (RK-WIRE-001); each listed requirement is in the catalog."""
    import ast

    problems, catalog = load_problems(), load_catalog()
    named: set[tuple[str, str]] = set()
    for path in (ROOT / "reference" / "renkei_reference").rglob("*.py"):
        if path.name == "known_bad.py":  # deliberately wrong variants
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 3:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            slug, req = node.args[0], node.args[2]
            if (
                name.endswith("Error")
                and isinstance(slug, ast.Constant)
                and slug.value in problems
                and isinstance(req, ast.Constant)
                and isinstance(req.value, str)
            ):
                named.add((slug.value, req.value))
    assert named
    for slug, entry in problems.items():
        assert set(entry.get("also", [])) <= set(catalog.requirements), slug
    bad = sorted(
        (slug, req)
        for slug, req in named
        if problems[slug]["requirement"]
        and req not in [problems[slug]["requirement"], *problems[slug].get("also", [])]
    )
    assert not bad, f"requirements no registry entry admits: {bad}"


def test_every_vector_file_validates_against_the_schema_it_names() -> None:
    import json

    import jsonschema

    assert len(VECTOR_FILES) >= 6
    for name in VECTOR_FILES:
        path = SPECS / "vectors" / f"{name}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        schema_path = (path.parent / data["$schema"]).resolve()
        assert schema_path.parent == (SPECS / "schemas").resolve(), name
        jsonschema.validate(data, json.loads(schema_path.read_text(encoding="utf-8")))
        if data["$schema"].endswith("/vectors.schema.json"):
            load_vectors(name)


@pytest.mark.parametrize(
    "generator",
    ["generate.py", "generate_merkle.py", "generate_pattern_documents.py", "generate_binding.py"],
)
def test_vector_files_are_what_their_generator_writes(generator: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SPECS / "vectors" / generator), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _served(app: Any) -> set[tuple[str, str]]:
    return {
        (method.upper(), _norm(path))
        for path, item in app.openapi()["paths"].items()
        for method in item
    }


def test_reference_serves_exactly_the_operations_of_the_protocol(tmp_path: Path) -> None:
    """Every operation of specs/openapi is served by the reference — the hub's
    application, or the agency node's for ``/agency`` and ``/control/agency-node``
    — and neither serves anything the wire protocol does not define: nothing is
    declared and left unserved."""
    import httpx

    from renkei_reference.core.agency import Designation
    from renkei_reference.services.agency_node import AgencyNode, CsvFolderAdapter, HubConnection
    from renkei_reference.services.agency_node.app import create_agency_app
    from renkei_reference.services.agency_node.control import (
        agency_control_router,
        agency_discovery_router,
    )
    from renkei_reference.services.app import create_app
    from renkei_reference.services.clock import ControllableClock

    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    spec_ops = {
        (method.upper(), _norm(path))
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    with httpx.Client() as client:
        node = AgencyNode(
            "spec.node",
            HubConnection(client, "http://hub.invalid"),
            Designation(),
            CsvFolderAdapter(tmp_path),
            ControllableClock(),
        )
        agency_app = create_agency_app(
            node,
            {},
            routers=[
                agency_discovery_router(node, test_mode=True, version="0"),
                agency_control_router(node, {}),
            ],
        )
        hub, agency = _served(create_app(test_mode=True)), _served(agency_app)
    assert hub - spec_ops == set(), "served by the hub's application but not in the protocol"
    assert agency - spec_ops == set(), "served by the agency node but not in the protocol"
    assert spec_ops - (hub | agency) == set(), "in the protocol but served by nobody"
    on_node = {op for op in spec_ops if op[1].startswith(("/agency/", "/control/agency-node/"))}
    assert on_node <= agency, "an agency-node operation the node does not serve"


def test_benchmark_thresholds_name_existing_benchmarks_and_requirements() -> None:
    import json

    import jsonschema

    data = yaml.safe_load((SPECS / "benchmarks" / "thresholds.yaml").read_text(encoding="utf-8"))
    schema = json.loads((SPECS / "schemas" / "benchmark-thresholds.schema.json").read_text())
    jsonschema.validate(data, schema)
    catalog = load_catalog()
    for row in data["thresholds"]:
        path = row["benchmark"].split("::")[0]
        assert (ROOT / path).is_file(), row["id"]
        if "::" in row["benchmark"]:
            assert f"def {row['benchmark'].split('::')[1]}(" in (ROOT / path).read_text(), row["id"]
        assert set(row["requirements"]) <= set(catalog.requirements), row["id"]


def test_the_reference_discovery_document_names_the_spec_versions_in_this_repository() -> None:
    """RK-WIRE-003: the versions the reference reports are those of specs/."""
    from renkei_reference.services.app import CATALOG_VERSION, INTERFACE_VERSION

    catalog = yaml.safe_load((ROOT / "specs" / "requirements.yaml").read_text(encoding="utf-8"))
    interface = yaml.safe_load(
        (ROOT / "specs" / "openapi" / "renkei.yaml").read_text(encoding="utf-8")
    )
    assert catalog["catalog_version"] == CATALOG_VERSION
    assert interface["info"]["version"] == INTERFACE_VERSION


def test_binding_reasons_on_the_wire_are_the_reasons_the_matcher_gives() -> None:
    """OpenAPI ``BindingReason`` documents exactly what the reference emits
    (RK-BND-003): no value nothing emits, no value emitted undocumented."""
    from renkei_reference.core.binding_match import BINDING_REASONS

    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    text = doc["components"]["schemas"]["BindingReason"]["description"]
    known = text.split("Known values:")[1].split("A private body")[0]
    documented = set(re.findall(r"`([a-z-]+)`", known))
    assert documented == set(BINDING_REASONS)


def test_removal_reasons_are_one_list_on_the_wire_the_model_and_the_registry() -> None:
    """RK-BND-009: OpenAPI ``RemovalReason`` is the registry's ``REMOVAL_REASONS`` and
    the control model's, so a reason the wire accepts is one the registry holds."""
    from typing import get_args

    from renkei_reference.services.registry.registry import REMOVAL_REASONS
    from renkei_reference.services.web.models import ResidentIn

    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    wire = doc["components"]["schemas"]["RemovalReason"]["enum"]
    model = get_args(get_args(ResidentIn.model_fields["removed_reason"].annotation)[0])
    assert wire == list(REMOVAL_REASONS) == list(model)
