"""The specification files validate, agree with each other and cover the seed."""

from __future__ import annotations

import re
import subprocess
import sys

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


def test_reference_serves_exactly_the_operations_of_this_protocol_version() -> None:
    """Every operation marked x-renkei-since 0.1 is served by the reference, and
    the reference serves nothing the wire protocol does not define."""
    from renkei_reference.services.app import create_app

    doc = yaml.safe_load((SPECS / "openapi" / "renkei.yaml").read_text(encoding="utf-8"))
    spec_ops = {
        (method.upper(), _norm(path)): op.get("x-renkei-since")
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    }
    served = {
        (method.upper(), _norm(path))
        for path, item in create_app(test_mode=True).openapi()["paths"].items()
        for method in item
    }
    assert served - set(spec_ops) == set(), "served but not in the protocol"
    due = {op for op, since in spec_ops.items() if since == "0.1"}
    assert due - served == set(), "in protocol version 0.1 but not served"


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
