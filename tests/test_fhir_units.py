"""The FHIR face's pure parts: resource ids, date bounds, scope names, and the one statement
of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from starlette.datastructures import QueryParams

from wardgraph.auth.claims import PARTNER_SCOPES
from wardgraph.db.patients import PATIENT_COLUMNS
from wardgraph.server.fhir import lookups, resources, scopes, search

ROW = UUID("6f1c2b9e-0d4a-4c1e-9a57-3b2d8e1f0a11")
AT = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", resources.KINDS)
def test_each_observation_id_names_its_row_and_sign(kind: str) -> None:
    assert resources.parse_observation_id(resources.observation_id(ROW, kind)) == (ROW, kind)


@pytest.mark.parametrize("given", [
    pytest.param(str(ROW), id="bare-uuid"),
    pytest.param(f"{ROW}-weight", id="unknown-sign"),
    pytest.param("not-a-uuid-rr", id="not-a-uuid"),
])
def test_an_id_not_of_ours_parses_to_nothing(given: str) -> None:
    assert resources.parse_observation_id(given) is None


@pytest.mark.parametrize(("prefix", "moment", "admitted"), [
    pytest.param("ge", AT, True, id="ge-equal"),
    pytest.param("gt", AT, False, id="gt-equal"),
    pytest.param("le", AT, True, id="le-equal"),
    pytest.param("lt", AT, False, id="lt-equal"),
])
def test_date_prefixes_include_or_exclude_the_instant_itself(
    prefix: str, moment: datetime, admitted: bool
) -> None:
    bounds = search.date_range(QueryParams({"date": prefix + AT.isoformat()}))
    assert bounds.admits(moment) is admitted


def test_every_smart_scope_maps_onto_a_partner_scope_sql_enforces() -> None:
    assert {s.partner_scope for s in scopes.SCOPES} <= set(PARTNER_SCOPES)
    assert len(scopes.SMART_OF) == len(scopes.SCOPES)  # one SMART scope per partner scope


def test_the_mrn_lookup_reads_the_columns_every_patient_read_reads() -> None:
    selected = lookups.FETCH_PATIENTS_BY_MRN.split("select", 1)[1].split("from", 1)[0]
    assert [c.strip() for c in selected.split(",")] == [
        c.strip() for c in PATIENT_COLUMNS.split(",")]
