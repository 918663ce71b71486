"""Unit tests for wardgraph.news2 against the RCP NEWS2 chart (2017).

Each chart parameter has one table listing both sides of every band edge (plus the validation
extremes); one parametrised test per table checks it. Test ids read "<param>-<value>-scores-<n>".
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardgraph.news2 import (
    Consciousness,
    InvalidVitals,
    News2Score,
    ParameterScore,
    Risk,
    Spo2Scale,
    Vitals,
    round_temperature,
    score,
    validate,
)

# Scores 0 on every parameter.
NORMAL = Vitals(
    respiration_rate=16,
    spo2=97,
    on_oxygen=False,
    systolic_bp=120,
    pulse=70,
    consciousness=Consciousness.ALERT,
    temperature=Decimal("37.0"),
)

PARAMETER_NAMES = (
    "respirationRate",
    "spo2",
    "airOrOxygen",
    "systolicBp",
    "pulse",
    "consciousness",
    "temperature",
)


def vitals(**changes: Any) -> Vitals:
    """NORMAL with some fields changed (any type, so invalid values can be built too)."""
    return replace(NORMAL, **changes)


def parameter(result: News2Score, name: str) -> ParameterScore:
    (found,) = (p for p in result.parameters if p.name == name)
    return found


def band(prefix: str, value: object, expected: int) -> Any:  # a pytest.param
    return pytest.param(value, expected, id=f"{prefix}-{value}-scores-{expected}")


ON_AIR_OR_OXYGEN = pytest.mark.parametrize(
    "on_oxygen", [pytest.param(False, id="air"), pytest.param(True, id="oxygen")]
)

# --- chart 1 band edges ------------------------------------------------------------------------

RESPIRATION_RATE_BANDS = [
    band("rr", value, expected)
    for value, expected in [
        (0, 3), (8, 3),
        (9, 1), (11, 1),
        (12, 0), (20, 0),
        (21, 2), (24, 2),
        (25, 3), (80, 3),
    ]
]  # fmt: skip

SPO2_SCALE_1_BANDS = [
    band("spo2", value, expected)
    for value, expected in [
        (0, 3), (91, 3),
        (92, 2), (93, 2),
        (94, 1), (95, 1),
        (96, 0), (100, 0),
    ]
]  # fmt: skip

# Scale 2 up to the 88-92% target: the same on air and on oxygen.
SPO2_SCALE_2_BANDS_TO_TARGET = [
    band("spo2", value, expected)
    for value, expected in [
        (0, 3), (83, 3),
        (84, 2), (85, 2),
        (86, 1), (87, 1),
        (88, 0), (92, 0),
    ]
]  # fmt: skip

# Scale 2 above the target: 0 on air; 1, 2, 3 on oxygen.
SPO2_SCALE_2_BANDS_ABOVE_TARGET_ON_AIR = [
    band("spo2", value, 0) for value in (92, 93, 94, 95, 96, 97, 100)
]
SPO2_SCALE_2_BANDS_ABOVE_TARGET_ON_OXYGEN = [
    band("spo2", value, expected)
    for value, expected in [
        (92, 0),
        (93, 1), (94, 1),
        (95, 2), (96, 2),
        (97, 3), (100, 3),
    ]
]  # fmt: skip

SYSTOLIC_BP_BANDS = [
    band("sbp", value, expected)
    for value, expected in [
        (20, 3), (90, 3),
        (91, 2), (100, 2),
        (101, 1), (110, 1),
        (111, 0), (219, 0),
        (220, 3), (300, 3),
    ]
]  # fmt: skip

PULSE_BANDS = [
    band("pulse", value, expected)
    for value, expected in [
        (0, 3), (40, 3),
        (41, 1), (50, 1),
        (51, 0), (90, 0),
        (91, 1), (110, 1),
        (111, 2), (130, 2),
        (131, 3), (300, 3),
    ]
]  # fmt: skip

CONSCIOUSNESS_BANDS = [
    band("acvpu", level.value, 0 if level is Consciousness.ALERT else 3) for level in Consciousness
]

TEMPERATURE_BANDS = [
    band("temp", value, expected)
    for value, expected in [
        ("25.0", 3), ("35.0", 3),
        ("35.1", 1), ("36.0", 1),
        ("36.1", 0), ("38.0", 0),
        ("38.1", 1), ("39.0", 1),
        ("39.1", 2), ("45.0", 2),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), RESPIRATION_RATE_BANDS)
def test_respiration_rate_scores_per_chart_band(value: int, expected: int) -> None:
    result = score(vitals(respiration_rate=value))
    assert parameter(result, "respirationRate") == ParameterScore(
        "respirationRate", str(value), expected
    )


@ON_AIR_OR_OXYGEN
@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_1_BANDS)
def test_spo2_scores_per_scale_1_band_on_air_or_oxygen(
    value: int, expected: int, on_oxygen: bool
) -> None:
    result = score(vitals(spo2=value, on_oxygen=on_oxygen), Spo2Scale.SCALE_1)
    assert parameter(result, "spo2") == ParameterScore("spo2", str(value), expected)


def test_scale_1_is_the_default() -> None:
    assert parameter(score(vitals(spo2=91)), "spo2").score == 3


@ON_AIR_OR_OXYGEN
@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_2_BANDS_TO_TARGET)
def test_spo2_up_to_target_scores_per_scale_2_band_on_air_or_oxygen(
    value: int, expected: int, on_oxygen: bool
) -> None:
    result = score(vitals(spo2=value, on_oxygen=on_oxygen), Spo2Scale.SCALE_2)
    assert parameter(result, "spo2").score == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_2_BANDS_ABOVE_TARGET_ON_AIR)
def test_spo2_above_target_scores_0_on_scale_2_on_air(value: int, expected: int) -> None:
    result = score(vitals(spo2=value, on_oxygen=False), Spo2Scale.SCALE_2)
    assert parameter(result, "spo2").score == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_2_BANDS_ABOVE_TARGET_ON_OXYGEN)
def test_spo2_above_target_scores_per_scale_2_band_on_oxygen(value: int, expected: int) -> None:
    result = score(vitals(spo2=value, on_oxygen=True), Spo2Scale.SCALE_2)
    assert parameter(result, "spo2").score == expected


@pytest.mark.parametrize(
    ("on_oxygen", "value", "expected"),
    [
        pytest.param(False, "AIR", 0, id="air-scores-0"),
        pytest.param(True, "OXYGEN", 2, id="oxygen-scores-2"),
    ],
)
def test_air_or_oxygen_scores_per_chart(on_oxygen: bool, value: str, expected: int) -> None:
    result = score(vitals(on_oxygen=on_oxygen))
    assert parameter(result, "airOrOxygen") == ParameterScore("airOrOxygen", value, expected)


@pytest.mark.parametrize(("value", "expected"), SYSTOLIC_BP_BANDS)
def test_systolic_bp_scores_per_chart_band(value: int, expected: int) -> None:
    result = score(vitals(systolic_bp=value))
    assert parameter(result, "systolicBp") == ParameterScore("systolicBp", str(value), expected)


@pytest.mark.parametrize(("value", "expected"), PULSE_BANDS)
def test_pulse_scores_per_chart_band(value: int, expected: int) -> None:
    result = score(vitals(pulse=value))
    assert parameter(result, "pulse") == ParameterScore("pulse", str(value), expected)


@pytest.mark.parametrize(("value", "expected"), CONSCIOUSNESS_BANDS)
def test_consciousness_alert_scores_0_and_cvpu_scores_3(value: str, expected: int) -> None:
    result = score(vitals(consciousness=Consciousness(value)))
    assert parameter(result, "consciousness") == ParameterScore("consciousness", value, expected)


@pytest.mark.parametrize(("value", "expected"), TEMPERATURE_BANDS)
def test_temperature_scores_per_chart_band(value: str, expected: int) -> None:
    result = score(vitals(temperature=Decimal(value)))
    assert parameter(result, "temperature") == ParameterScore("temperature", value, expected)


def test_parameters_are_named_and_valued_as_scored_in_chart_order() -> None:
    result = score(NORMAL)
    assert [(p.name, p.value, p.score) for p in result.parameters] == [
        ("respirationRate", "16", 0),
        ("spo2", "97", 0),
        ("airOrOxygen", "AIR", 0),
        ("systolicBp", "120", 0),
        ("pulse", "70", 0),
        ("consciousness", "ALERT", 0),
        ("temperature", "37.0", 0),
    ]


# --- temperature rounding rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        pytest.param(Decimal("35.05"), "35.1", id="decimal-35.05-rounds-up-to-35.1"),
        pytest.param(Decimal("35.04"), "35.0", id="decimal-35.04-rounds-down-to-35.0"),
        pytest.param(35.05, "35.1", id="float-35.05-rounds-up-to-35.1"),
        pytest.param(35.04, "35.0", id="float-35.04-rounds-down-to-35.0"),
        pytest.param("35.05", "35.1", id="str-35.05-rounds-up-to-35.1"),
        pytest.param("36.05", "36.1", id="str-36.05-rounds-up-to-36.1"),
        pytest.param(38.05, "38.1", id="float-38.05-rounds-up-to-38.1"),
        pytest.param("39.05", "39.1", id="str-39.05-rounds-up-to-39.1"),
        pytest.param("36.95", "37.0", id="str-36.95-rounds-up-to-37.0"),
        pytest.param("35.149", "35.1", id="str-35.149-rounds-down-to-35.1"),
        pytest.param(37, "37.0", id="int-37-gains-one-decimal"),
        pytest.param("3.705E+1", "37.1", id="exponent-notation"),
    ],
)
def test_round_temperature_rounds_half_up_to_one_decimal(
    raw: Decimal | float | str, rounded: str
) -> None:
    result = round_temperature(raw)
    assert isinstance(result, Decimal)
    assert str(result) == rounded


@pytest.mark.parametrize("as_type", [Decimal, float, str])
@pytest.mark.parametrize(
    ("raw", "rounded", "expected"),
    [
        pytest.param("35.05", "35.1", 1, id="35.05-is-35.1-scores-1"),
        pytest.param("35.04", "35.0", 3, id="35.04-is-35.0-scores-3"),
        pytest.param("36.05", "36.1", 0, id="36.05-is-36.1-scores-0"),
        pytest.param("36.04", "36.0", 1, id="36.04-is-36.0-scores-1"),
        pytest.param("38.05", "38.1", 1, id="38.05-is-38.1-scores-1"),
        pytest.param("38.04", "38.0", 0, id="38.04-is-38.0-scores-0"),
        pytest.param("39.05", "39.1", 2, id="39.05-is-39.1-scores-2"),
        pytest.param("39.04", "39.0", 1, id="39.04-is-39.0-scores-1"),
    ],
)
def test_temperature_is_rounded_half_up_before_banding(
    raw: str, rounded: str, expected: int, as_type: type[Any]
) -> None:
    result = score(vitals(temperature=as_type(raw)))
    assert parameter(result, "temperature") == ParameterScore("temperature", rounded, expected)


@pytest.mark.parametrize(
    "raw", ["abc", "", "NaN", "-Infinity", float("nan"), float("inf"), True, None, "1E+40"]
)
def test_round_temperature_rejects_values_that_are_not_finite_numbers(raw: Any) -> None:
    with pytest.raises(InvalidVitals) as caught:
        round_temperature(raw)
    assert caught.value.field == "temperature"


# --- risk and red score (triggers chart); clinical response (response chart) ----------------

# Values scoring 1, 2 or 3 on one parameter each, combined to reach a given total.
RR_2 = {"respiration_rate": 21}
PULSE_2 = {"pulse": 111}
OXYGEN_2 = {"on_oxygen": True}
TEMP_LOW_1 = {"temperature": Decimal("35.5")}
TEMP_HIGH_1 = {"temperature": Decimal("38.5")}
VOICE_3 = {"consciousness": Consciousness.VOICE}
SBP_3 = {"systolic_bp": 90}

RISK_CASES = [
    pytest.param({}, 0, Risk.LOW, False, id="total-0-is-low"),
    pytest.param(TEMP_LOW_1, 1, Risk.LOW, False, id="total-1-is-low"),
    pytest.param(RR_2 | PULSE_2, 4, Risk.LOW, False, id="total-4-is-low"),
    pytest.param(RR_2 | PULSE_2 | TEMP_LOW_1, 5, Risk.MEDIUM, False, id="total-5-is-medium"),
    pytest.param(RR_2 | PULSE_2 | OXYGEN_2, 6, Risk.MEDIUM, False, id="total-6-is-medium"),
    pytest.param(
        RR_2 | PULSE_2 | OXYGEN_2 | TEMP_HIGH_1, 7, Risk.HIGH, False, id="total-7-is-high"
    ),
    pytest.param(VOICE_3, 3, Risk.LOW_MEDIUM, True, id="single-3-total-3-is-low-medium"),
    pytest.param(
        VOICE_3 | TEMP_LOW_1, 4, Risk.LOW_MEDIUM, True, id="single-3-total-4-is-low-medium"
    ),
    pytest.param(VOICE_3 | RR_2, 5, Risk.MEDIUM, True, id="single-3-total-5-is-medium"),
    pytest.param(VOICE_3 | SBP_3, 6, Risk.MEDIUM, True, id="two-3s-total-6-is-medium"),
    pytest.param(VOICE_3 | RR_2 | PULSE_2, 7, Risk.HIGH, True, id="single-3-total-7-is-high"),
    pytest.param(
        {
            "respiration_rate": 8,
            "spo2": 91,
            "on_oxygen": True,
            "systolic_bp": 90,
            "pulse": 40,
            "consciousness": Consciousness.UNRESPONSIVE,
            "temperature": Decimal("35.0"),
        },
        20,
        Risk.HIGH,
        True,
        id="maximum-total-20-is-high",
    ),
]


@pytest.mark.parametrize(("changes", "total", "risk", "red_score"), RISK_CASES)
def test_risk_and_red_score_follow_the_triggers_chart(
    changes: dict[str, Any], total: int, risk: Risk, red_score: bool
) -> None:
    result = score(vitals(**changes))
    assert (result.total, result.risk, result.red_score) == (total, risk, red_score)
    assert result.escalates is (red_score or risk in (Risk.MEDIUM, Risk.HIGH))


@pytest.mark.parametrize(
    ("changes", "escalates"),
    [
        pytest.param({}, False, id="total-0-does-not-escalate"),
        pytest.param(RR_2 | PULSE_2, False, id="total-4-does-not-escalate"),
        pytest.param(VOICE_3, True, id="red-score-escalates"),
        pytest.param(RR_2 | PULSE_2 | TEMP_LOW_1, True, id="medium-escalates"),
        pytest.param(RR_2 | PULSE_2 | OXYGEN_2 | TEMP_HIGH_1, True, id="high-escalates"),
    ],
)
def test_escalates_when_medium_high_or_red_score(changes: dict[str, Any], escalates: bool) -> None:
    assert score(vitals(**changes)).escalates is escalates


# Clinical response wording, copied from the RCP chart independently of the module's constants.
RESPONSE_0 = "Continue routine NEWS monitoring"
RESPONSE_1_TO_4 = (
    "Inform registered nurse, who must assess the patient; registered nurse decides whether "
    "increased frequency of clinical monitoring or escalation of care is required"
)
RESPONSE_RED = (
    "Registered nurse to inform medical team caring for the patient, who will review and decide "
    "whether escalation of care is necessary"
)
RESPONSE_5_TO_6 = (
    "Registered nurse to immediately inform the medical team caring for the patient; registered "
    "nurse to request urgent assessment by a clinician or team with core competencies in the care "
    "of acutely ill patients; provide clinical care in an environment with monitoring facilities"
)
RESPONSE_7_PLUS = (
    "Registered nurse to immediately inform the medical team caring for the patient – this should "
    "be at least at specialist registrar level; emergency assessment by a team with critical care "
    "competencies, including practitioners with advanced airway management skills; consider "
    "transfer of care to a level 2 or 3 clinical care facility, ie higher-dependency unit or ICU; "
    "clinical care in an environment with monitoring facilities"
)


@pytest.mark.parametrize(
    ("changes", "monitoring", "response"),
    [
        pytest.param({}, "Minimum 12 hourly", RESPONSE_0, id="total-0"),
        pytest.param(TEMP_LOW_1, "Minimum 4–6 hourly", RESPONSE_1_TO_4, id="total-1"),
        pytest.param(RR_2 | PULSE_2, "Minimum 4–6 hourly", RESPONSE_1_TO_4, id="total-4"),
        pytest.param(VOICE_3, "Minimum 1 hourly", RESPONSE_RED, id="single-3-total-3"),
        pytest.param(VOICE_3 | TEMP_LOW_1, "Minimum 1 hourly", RESPONSE_RED, id="single-3-total-4"),
        pytest.param(
            RR_2 | PULSE_2 | TEMP_LOW_1, "Minimum 1 hourly", RESPONSE_5_TO_6, id="total-5"
        ),
        pytest.param(VOICE_3 | RR_2, "Minimum 1 hourly", RESPONSE_5_TO_6, id="single-3-total-5"),
        pytest.param(
            RR_2 | PULSE_2 | OXYGEN_2 | TEMP_HIGH_1,
            "Continuous monitoring of vital signs",
            RESPONSE_7_PLUS,
            id="total-7",
        ),
    ],
)
def test_monitoring_and_response_follow_the_response_chart(
    changes: dict[str, Any], monitoring: str, response: str
) -> None:
    result = score(vitals(**changes))
    assert result.monitoring == monitoring
    assert result.response == response


# --- validation --------------------------------------------------------------------------------

ACCEPTED_LIMITS = [
    pytest.param(field, value, id=f"{field}-{value}-accepted")
    for field, value in [
        ("respiration_rate", 0), ("respiration_rate", 80),
        ("spo2", 0), ("spo2", 100),
        ("systolic_bp", 20), ("systolic_bp", 300),
        ("pulse", 0), ("pulse", 300),
        ("temperature", Decimal("25.0")), ("temperature", Decimal("45.0")),
        ("temperature", Decimal("24.95")), ("temperature", Decimal("45.04")),  # round in range
        ("temperature", 25), ("temperature", "45"),
        ("consciousness", "VOICE"),  # the member's string value
    ]
]  # fmt: skip

REJECTED_VALUES = [
    pytest.param(field, value, id=f"{field}-{value!r}-rejected")
    for field, value in [
        ("respiration_rate", -1), ("respiration_rate", 81),
        ("spo2", -1), ("spo2", 101),
        ("systolic_bp", 19), ("systolic_bp", 301),
        ("pulse", -1), ("pulse", 301),
        ("temperature", Decimal("24.9")), ("temperature", Decimal("45.1")),
        ("temperature", Decimal("24.94")), ("temperature", Decimal("45.05")),  # round out
        ("temperature", 80), ("temperature", -40.0),
        # wrong types
        ("respiration_rate", True), ("respiration_rate", 16.0), ("respiration_rate", "16"),
        ("spo2", False), ("systolic_bp", 120.5), ("pulse", None),
        ("on_oxygen", 1), ("on_oxygen", "yes"), ("on_oxygen", None),
        ("consciousness", "SLEEPY"), ("consciousness", "alert"), ("consciousness", 0),
        ("temperature", "warm"), ("temperature", None), ("temperature", True),
        ("temperature", float("nan")),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), ACCEPTED_LIMITS)
def test_values_at_the_limits_are_accepted(field: str, value: Any) -> None:
    validate(vitals(**{field: value}))
    assert len(score(vitals(**{field: value})).parameters) == len(PARAMETER_NAMES)


@pytest.mark.parametrize(("field", "value"), REJECTED_VALUES)
def test_impossible_values_are_rejected_naming_the_field(field: str, value: Any) -> None:
    bad = vitals(**{field: value})
    with pytest.raises(InvalidVitals) as caught:
        validate(bad)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field} must be ")
    with pytest.raises(InvalidVitals):
        score(bad)


def test_invalid_vitals_message_is_human_readable() -> None:
    with pytest.raises(InvalidVitals) as caught:
        validate(vitals(spo2=101))
    assert caught.value.message == "spo2 must be between 0 and 100 %"
    assert str(caught.value) == caught.value.message
    assert isinstance(caught.value, ValueError)


def test_temperature_limit_message_names_degrees_celsius() -> None:
    with pytest.raises(InvalidVitals, match=r"^temperature must be between 25\.0 and 45\.0 °C$"):
        validate(vitals(temperature=80))


def test_the_first_impossible_value_is_reported() -> None:
    with pytest.raises(InvalidVitals) as caught:
        validate(vitals(respiration_rate=-1, spo2=101, temperature=80))
    assert caught.value.field == "respiration_rate"
    with pytest.raises(InvalidVitals) as caught:
        validate(vitals(spo2=101, consciousness="SLEEPY", temperature=80))
    assert caught.value.field == "spo2"


def test_invalid_vitals_survives_pickling() -> None:
    error = InvalidVitals("pulse", "pulse must be between 0 and 300 beats per minute")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.field, copy.message) == (error.field, error.message)


def test_scale_may_be_given_by_value_but_must_be_known() -> None:
    by_value: Any = "SCALE_2"
    assert parameter(score(vitals(spo2=97, on_oxygen=True), by_value), "spo2").score == 3
    with pytest.raises(ValueError, match="scale"):
        score(NORMAL, "SCALE_3")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

valid_temperatures = st.one_of(
    st.decimals(min_value=Decimal("25.0"), max_value=Decimal("45.0"), places=2),
    st.floats(min_value=25.0, max_value=45.0),
    st.decimals(min_value=Decimal("25.0"), max_value=Decimal("45.0"), places=3).map(str),
)

valid_vitals = st.builds(
    Vitals,
    respiration_rate=st.integers(0, 80),
    spo2=st.integers(0, 100),
    on_oxygen=st.booleans(),
    systolic_bp=st.integers(20, 300),
    pulse=st.integers(0, 300),
    consciousness=st.sampled_from(Consciousness),
    temperature=valid_temperatures,
)


@given(valid_vitals, st.sampled_from(Spo2Scale))
def test_total_red_score_and_risk_are_consistent_with_parameter_scores(
    v: Vitals, scale: Spo2Scale
) -> None:
    result = score(v, scale)
    scores = [p.score for p in result.parameters]
    assert tuple(p.name for p in result.parameters) == PARAMETER_NAMES
    assert all(0 <= s <= 3 for s in scores)
    assert result.total == sum(scores)
    assert result.red_score == (3 in scores)
    if result.total >= 7:
        expected = Risk.HIGH
    elif result.total >= 5:
        expected = Risk.MEDIUM
    elif 3 in scores:
        expected = Risk.LOW_MEDIUM
    else:
        expected = Risk.LOW
    assert result.risk is expected
    assert result.escalates == (result.red_score or expected in (Risk.MEDIUM, Risk.HIGH))


@given(
    st.sampled_from(
        [("respiration_rate", 0, 80), ("spo2", 0, 100), ("systolic_bp", 20, 300), ("pulse", 0, 300)]
    ),
    st.integers(1, 10**6),
    st.booleans(),
)
def test_any_integer_outside_the_limits_is_rejected(
    limits: tuple[str, int, int], distance: int, below: bool
) -> None:
    field, low, high = limits
    with pytest.raises(InvalidVitals) as caught:
        validate(vitals(**{field: low - distance if below else high + distance}))
    assert caught.value.field == field
