"""NEWS2 (National Early Warning Score 2) scoring.

Implements the scoring chart, thresholds and triggers, and clinical response of:

    Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
    assessment of acute-illness severity in the NHS. Updated report of a working party.
    London: RCP, 2017

Comments below cite the report's charts by title: "chart 1" is the NEWS scoring system, the
"triggers chart" the NEWS thresholds and triggers, and the "response chart" the clinical
response to the NEWS trigger thresholds. Every band edge is a named module-level constant; each
band is inclusive at both ends, exactly as printed on chart 1.

This module is pure: no I/O, no global state, no clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Final

__all__ = [
    "Consciousness",
    "InvalidVitals",
    "News2Score",
    "ParameterScore",
    "Risk",
    "Spo2Scale",
    "Vitals",
    "monitoring_interval",
    "round_temperature",
    "score",
    "validate",
]


class Consciousness(str, enum.Enum):  # noqa: UP042 - API contract: (str, Enum), not StrEnum
    """ACVPU level of consciousness (chart 1); "C" is new confusion."""

    ALERT = "ALERT"
    NEW_CONFUSION = "NEW_CONFUSION"
    VOICE = "VOICE"
    PAIN = "PAIN"
    UNRESPONSIVE = "UNRESPONSIVE"


class Spo2Scale(str, enum.Enum):  # noqa: UP042 - API contract: (str, Enum), not StrEnum
    """Which SpO2 row of chart 1 to use.

    SCALE_2 is only for patients with a prescribed oxygen saturation target of 88-92%
    (e.g. hypercapnic respiratory failure), as decided by a competent clinical decision maker.
    """

    SCALE_1 = "SCALE_1"
    SCALE_2 = "SCALE_2"


class Risk(str, enum.Enum):  # noqa: UP042 - API contract: (str, Enum), not StrEnum
    """Clinical risk category (triggers chart)."""

    LOW = "LOW"
    LOW_MEDIUM = "LOW_MEDIUM"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


# ---------------------------------------------------------------------------------------------
# Chart 1: band edges. Each "*_MAX" is the highest value (inclusive) of the band it names; the
# next band starts one unit (one tenth of a degree for temperature) above it.
# ---------------------------------------------------------------------------------------------

# Respiration rate (per minute): <=8 -> 3 | 9-11 -> 1 | 12-20 -> 0 | 21-24 -> 2 | >=25 -> 3
RESPIRATION_RATE_SCORE_3_LOW_MAX: Final = 8  # chart 1: "<=8" scores 3
RESPIRATION_RATE_SCORE_1_LOW_MAX: Final = 11  # chart 1: "9-11" scores 1
RESPIRATION_RATE_SCORE_0_MAX: Final = 20  # chart 1: "12-20" scores 0
RESPIRATION_RATE_SCORE_2_HIGH_MAX: Final = 24  # chart 1: "21-24" scores 2; ">=25" scores 3

# SpO2 Scale 1 (%): <=91 -> 3 | 92-93 -> 2 | 94-95 -> 1 | >=96 -> 0 (air or oxygen alike)
SPO2_SCALE_1_SCORE_3_MAX: Final = 91  # chart 1, Scale 1: "<=91" scores 3
SPO2_SCALE_1_SCORE_2_MAX: Final = 93  # chart 1, Scale 1: "92-93" scores 2
SPO2_SCALE_1_SCORE_1_MAX: Final = 95  # chart 1, Scale 1: "94-95" scores 1; ">=96" scores 0

# SpO2 Scale 2 (%): <=83 -> 3 | 84-85 -> 2 | 86-87 -> 1 | 88-92 (or >=93 on air) -> 0 |
#                   on oxygen: 93-94 -> 1 | 95-96 -> 2 | >=97 -> 3
SPO2_SCALE_2_SCORE_3_LOW_MAX: Final = 83  # chart 1, Scale 2: "<=83%" scores 3
SPO2_SCALE_2_SCORE_2_LOW_MAX: Final = 85  # chart 1, Scale 2: "84-85%" scores 2
SPO2_SCALE_2_SCORE_1_LOW_MAX: Final = 87  # chart 1, Scale 2: "86-87%" scores 1
SPO2_SCALE_2_SCORE_0_MAX: Final = 92  # chart 1, Scale 2: "88-92%, >=93% on air" scores 0
SPO2_SCALE_2_OXYGEN_SCORE_1_MAX: Final = 94  # chart 1, Scale 2: "93-94% on oxygen" scores 1
SPO2_SCALE_2_OXYGEN_SCORE_2_MAX: Final = 96  # chart 1, Scale 2: "95-96% on oxygen" scores 2
# chart 1, Scale 2: ">=97% on oxygen" scores 3 (everything above SPO2_SCALE_2_OXYGEN_SCORE_2_MAX)

# Air or oxygen: oxygen -> 2 | air -> 0
AIR_OR_OXYGEN_OXYGEN_SCORE: Final = 2  # chart 1: "Oxygen" scores 2
AIR_OR_OXYGEN_AIR_SCORE: Final = 0  # chart 1: "Air" scores 0

# Systolic blood pressure (mmHg): <=90 -> 3 | 91-100 -> 2 | 101-110 -> 1 | 111-219 -> 0 |
#                                 >=220 -> 3
SYSTOLIC_BP_SCORE_3_LOW_MAX: Final = 90  # chart 1: "<=90" scores 3
SYSTOLIC_BP_SCORE_2_MAX: Final = 100  # chart 1: "91-100" scores 2
SYSTOLIC_BP_SCORE_1_MAX: Final = 110  # chart 1: "101-110" scores 1
SYSTOLIC_BP_SCORE_0_MAX: Final = 219  # chart 1: "111-219" scores 0; ">=220" scores 3

# Pulse (per minute): <=40 -> 3 | 41-50 -> 1 | 51-90 -> 0 | 91-110 -> 1 | 111-130 -> 2 |
#                     >=131 -> 3
PULSE_SCORE_3_LOW_MAX: Final = 40  # chart 1: "<=40" scores 3
PULSE_SCORE_1_LOW_MAX: Final = 50  # chart 1: "41-50" scores 1
PULSE_SCORE_0_MAX: Final = 90  # chart 1: "51-90" scores 0
PULSE_SCORE_1_HIGH_MAX: Final = 110  # chart 1: "91-110" scores 1
PULSE_SCORE_2_HIGH_MAX: Final = 130  # chart 1: "111-130" scores 2; ">=131" scores 3

# Consciousness: Alert -> 0 | new Confusion, Voice, Pain, Unresponsive -> 3
CONSCIOUSNESS_ALERT_SCORE: Final = 0  # chart 1: "Alert" scores 0
CONSCIOUSNESS_NOT_ALERT_SCORE: Final = 3  # chart 1: "CVPU" scores 3

# Temperature (degrees C, one decimal): <=35.0 -> 3 | 35.1-36.0 -> 1 | 36.1-38.0 -> 0 |
#                                       38.1-39.0 -> 1 | >=39.1 -> 2
TEMPERATURE_SCORE_3_MAX: Final = Decimal("35.0")  # chart 1: "<=35.0" scores 3
TEMPERATURE_SCORE_1_LOW_MAX: Final = Decimal("36.0")  # chart 1: "35.1-36.0" scores 1
TEMPERATURE_SCORE_0_MAX: Final = Decimal("38.0")  # chart 1: "36.1-38.0" scores 0
TEMPERATURE_SCORE_1_HIGH_MAX: Final = Decimal("39.0")  # chart 1: "38.1-39.0" scores 1; ">=39.1" 2
TEMPERATURE_RESOLUTION: Final = Decimal("0.1")  # chart 1 prints temperature to one decimal

# ---------------------------------------------------------------------------------------------
# Triggers chart: NEWS thresholds and triggers.
# ---------------------------------------------------------------------------------------------
HIGH_RISK_MIN_TOTAL: Final = 7  # triggers chart: aggregate score 7 or more -> high
MEDIUM_RISK_MIN_TOTAL: Final = 5  # triggers chart: aggregate score 5-6 -> medium
RED_SCORE: Final = 3  # triggers chart: a 3 in any single parameter (red score)

# ---------------------------------------------------------------------------------------------
# Response chart: clinical response (minimum monitoring frequency and response).
# ---------------------------------------------------------------------------------------------
MONITORING_TOTAL_0: Final = "Minimum 12 hourly"  # response chart: NEWS 0
MONITORING_TOTAL_1_TO_4: Final = "Minimum 4–6 hourly"  # response chart: NEWS 1-4
MONITORING_RED_SCORE: Final = "Minimum 1 hourly"  # response chart: 3 in a single parameter
MONITORING_TOTAL_5_TO_6: Final = "Minimum 1 hourly"  # response chart: NEWS 5-6
MONITORING_TOTAL_7_OR_MORE: Final = "Continuous monitoring of vital signs"  # response chart: 7+

# The same frequencies as the longest a score lets pass before the next observation is due.
# "4-6 hourly" is a range the chart leaves to local policy; the shorter end is taken, so a board
# built on it calls a patient due too early rather than too late. Continuous monitoring (7+)
# has no next observation to wait for.
INTERVAL_TOTAL_0: Final = timedelta(hours=12)
INTERVAL_TOTAL_1_TO_4: Final = timedelta(hours=4)
INTERVAL_RED_SCORE: Final = timedelta(hours=1)
INTERVAL_TOTAL_5_TO_6: Final = timedelta(hours=1)

RESPONSE_TOTAL_0: Final = "Continue routine NEWS monitoring"  # response chart: NEWS 0
RESPONSE_TOTAL_1_TO_4: Final = (  # response chart: NEWS 1-4
    "Inform registered nurse, who must assess the patient; registered nurse decides whether "
    "increased frequency of clinical monitoring or escalation of care is required"
)
RESPONSE_RED_SCORE: Final = (  # response chart: 3 in a single parameter
    "Registered nurse to inform medical team caring for the patient, who will review and decide "
    "whether escalation of care is necessary"
)
RESPONSE_TOTAL_5_TO_6: Final = (  # response chart: NEWS 5-6
    "Registered nurse to immediately inform the medical team caring for the patient; registered "
    "nurse to request urgent assessment by a clinician or team with core competencies in the "
    "care of acutely ill patients; provide clinical care in an environment with monitoring "
    "facilities"
)
RESPONSE_TOTAL_7_OR_MORE: Final = (  # response chart: NEWS 7 or more
    "Registered nurse to immediately inform the medical team caring for the patient – this "
    "should be at least at specialist registrar level; emergency assessment by a team with "
    "critical care competencies, including practitioners with advanced airway management "
    "skills; consider transfer of care to a level 2 or 3 clinical care facility, ie "
    "higher-dependency unit or ICU; clinical care in an environment with monitoring facilities"
)

# ---------------------------------------------------------------------------------------------
# Validation limits: values outside these are physiologically impossible (or a data-entry
# error) and are rejected rather than scored. Inclusive at both ends.
# ---------------------------------------------------------------------------------------------
RESPIRATION_RATE_MIN: Final = 0
RESPIRATION_RATE_MAX: Final = 80
SPO2_MIN: Final = 0
SPO2_MAX: Final = 100
SYSTOLIC_BP_MIN: Final = 20
SYSTOLIC_BP_MAX: Final = 300
PULSE_MIN: Final = 0
PULSE_MAX: Final = 300
TEMPERATURE_MIN: Final = Decimal("25.0")  # compared after rounding to one decimal
TEMPERATURE_MAX: Final = Decimal("45.0")  # compared after rounding to one decimal

# Fixed decimal context so the caller's decimal settings cannot change a score.
_DECIMAL_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


@dataclass(frozen=True)
class Vitals:
    """One set of observations.

    ``temperature`` is annotated as ``Decimal`` but a float, int or numeric string is accepted;
    it is normalised with ``Decimal(str(x))`` and rounded by :func:`round_temperature` when
    validated and scored. ``consciousness`` may also be given as the member's string value.
    """

    respiration_rate: int  # breaths/min
    spo2: int  # %
    on_oxygen: bool  # supplemental oxygen (True) or air (False)
    systolic_bp: int  # mmHg
    pulse: int  # beats/min
    consciousness: Consciousness
    temperature: Decimal  # degrees C


@dataclass(frozen=True)
class ParameterScore:
    """The score of one chart 1 parameter, with the value as scored (as a string)."""

    name: str
    value: str
    score: int


@dataclass(frozen=True)
class News2Score:
    """Aggregate NEWS2 score with its risk (triggers chart) and clinical response."""

    total: int
    risk: Risk
    red_score: bool
    parameters: tuple[ParameterScore, ...]
    monitoring: str
    response: str

    @property
    def escalates(self) -> bool:
        """True when the score requires escalation beyond the ward nurse's routine review."""
        return self.red_score or self.risk in (Risk.MEDIUM, Risk.HIGH)


class InvalidVitals(ValueError):
    """A vital sign is impossible or of the wrong type.

    ``field`` is the snake_case :class:`Vitals` attribute name; ``message`` is human readable.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidVitals], tuple[str, str]]:
        return (type(self), (self.field, self.message))


def round_temperature(value: Decimal | float | str) -> Decimal:
    """Return ``value`` in degrees C rounded to one decimal place.

    Rule for extra decimals: the chart 1 temperature bands are printed to one decimal, so the
    temperature is first normalised with ``Decimal(str(value))`` (so a float such as 35.05 is
    read as written, not as its binary approximation) and then rounded to one decimal with
    ROUND_HALF_UP, and only then compared with the bands. Hence 35.05 -> 35.1 (scores 1),
    35.04 -> 35.0 (scores 3) and 38.05 -> 38.1 (scores 1).

    This does not check the plausible range (see :func:`validate`); it raises
    :class:`InvalidVitals` (field ``"temperature"``) only when ``value`` is not a finite number
    or is too large to round.
    """
    if isinstance(value, bool):
        raise _temperature_not_a_number()
    try:
        number = Decimal(str(value))  # exact: no context rounding on construction
    except (InvalidOperation, ValueError, TypeError):
        raise _temperature_not_a_number() from None
    if not number.is_finite():  # NaN, Infinity (or NaN if the caller's context hides errors)
        raise _temperature_not_a_number()
    try:
        return number.quantize(
            TEMPERATURE_RESOLUTION, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT
        )
    except InvalidOperation:  # more digits than the context holds: absurdly large
        raise _temperature_out_of_range() from None


def _temperature_not_a_number() -> InvalidVitals:
    return InvalidVitals("temperature", "temperature must be a number of degrees Celsius")


def _temperature_out_of_range() -> InvalidVitals:
    return InvalidVitals(
        "temperature",
        f"temperature must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX} °C",
    )


def _check_int(field: str, value: object, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidVitals(field, f"{field} must be a whole number")
    if not low <= value <= high:
        raise InvalidVitals(field, f"{field} must be between {low} and {high} {unit}")


def _consciousness(value: object) -> Consciousness:
    if isinstance(value, Consciousness):
        return value
    if isinstance(value, str):
        try:
            return Consciousness(value)
        except ValueError:
            pass
    allowed = ", ".join(level.value for level in Consciousness)
    raise InvalidVitals("consciousness", f"consciousness must be one of {allowed}")


def _checked(vitals: Vitals) -> tuple[Consciousness, Decimal]:
    """Validate ``vitals`` in field order; return the normalised consciousness and temperature."""
    _check_int(
        "respiration_rate",
        vitals.respiration_rate,
        RESPIRATION_RATE_MIN,
        RESPIRATION_RATE_MAX,
        "breaths per minute",
    )
    _check_int("spo2", vitals.spo2, SPO2_MIN, SPO2_MAX, "%")
    on_oxygen: object = vitals.on_oxygen
    if not isinstance(on_oxygen, bool):
        raise InvalidVitals("on_oxygen", "on_oxygen must be true (oxygen) or false (air)")
    _check_int("systolic_bp", vitals.systolic_bp, SYSTOLIC_BP_MIN, SYSTOLIC_BP_MAX, "mmHg")
    _check_int("pulse", vitals.pulse, PULSE_MIN, PULSE_MAX, "beats per minute")
    consciousness = _consciousness(vitals.consciousness)
    temperature = round_temperature(vitals.temperature)
    if not TEMPERATURE_MIN <= temperature <= TEMPERATURE_MAX:
        raise _temperature_out_of_range()
    return consciousness, temperature


def validate(vitals: Vitals) -> None:
    """Raise :class:`InvalidVitals` for the first impossible value, in field order.

    Limits (inclusive): respiration_rate 0-80 /min, spo2 0-100 %, systolic_bp 20-300 mmHg,
    pulse 0-300 /min, temperature 25.0-45.0 °C after :func:`round_temperature`. Integer fields
    must be ``int`` (not ``bool``), ``on_oxygen`` must be ``bool`` and ``consciousness`` a
    :class:`Consciousness` member (or its string value).
    """
    _checked(vitals)


# --- chart 1 scoring, one function per parameter ---------------------------------------------


def _score_respiration_rate(rate: int) -> int:
    if rate <= RESPIRATION_RATE_SCORE_3_LOW_MAX:
        return 3
    if rate <= RESPIRATION_RATE_SCORE_1_LOW_MAX:
        return 1
    if rate <= RESPIRATION_RATE_SCORE_0_MAX:
        return 0
    if rate <= RESPIRATION_RATE_SCORE_2_HIGH_MAX:
        return 2
    return 3


def _score_spo2_scale_1(spo2: int) -> int:
    if spo2 <= SPO2_SCALE_1_SCORE_3_MAX:
        return 3
    if spo2 <= SPO2_SCALE_1_SCORE_2_MAX:
        return 2
    if spo2 <= SPO2_SCALE_1_SCORE_1_MAX:
        return 1
    return 0


def _score_spo2_scale_2(spo2: int, on_oxygen: bool) -> int:
    if spo2 <= SPO2_SCALE_2_SCORE_3_LOW_MAX:
        return 3
    if spo2 <= SPO2_SCALE_2_SCORE_2_LOW_MAX:
        return 2
    if spo2 <= SPO2_SCALE_2_SCORE_1_LOW_MAX:
        return 1
    if spo2 <= SPO2_SCALE_2_SCORE_0_MAX or not on_oxygen:
        return 0
    if spo2 <= SPO2_SCALE_2_OXYGEN_SCORE_1_MAX:
        return 1
    if spo2 <= SPO2_SCALE_2_OXYGEN_SCORE_2_MAX:
        return 2
    return 3


def _score_systolic_bp(systolic: int) -> int:
    if systolic <= SYSTOLIC_BP_SCORE_3_LOW_MAX:
        return 3
    if systolic <= SYSTOLIC_BP_SCORE_2_MAX:
        return 2
    if systolic <= SYSTOLIC_BP_SCORE_1_MAX:
        return 1
    if systolic <= SYSTOLIC_BP_SCORE_0_MAX:
        return 0
    return 3


def _score_pulse(pulse: int) -> int:
    if pulse <= PULSE_SCORE_3_LOW_MAX:
        return 3
    if pulse <= PULSE_SCORE_1_LOW_MAX:
        return 1
    if pulse <= PULSE_SCORE_0_MAX:
        return 0
    if pulse <= PULSE_SCORE_1_HIGH_MAX:
        return 1
    if pulse <= PULSE_SCORE_2_HIGH_MAX:
        return 2
    return 3


def _score_temperature(rounded: Decimal) -> int:
    if rounded <= TEMPERATURE_SCORE_3_MAX:
        return 3
    if rounded <= TEMPERATURE_SCORE_1_LOW_MAX:
        return 1
    if rounded <= TEMPERATURE_SCORE_0_MAX:
        return 0
    if rounded <= TEMPERATURE_SCORE_1_HIGH_MAX:
        return 1
    return 2


def _risk(total: int, red_score: bool) -> Risk:
    if total >= HIGH_RISK_MIN_TOTAL:
        return Risk.HIGH
    if total >= MEDIUM_RISK_MIN_TOTAL:
        return Risk.MEDIUM
    if red_score:
        return Risk.LOW_MEDIUM
    return Risk.LOW


def _clinical_response(total: int, risk: Risk) -> tuple[str, str]:
    if risk is Risk.HIGH:
        return MONITORING_TOTAL_7_OR_MORE, RESPONSE_TOTAL_7_OR_MORE
    if risk is Risk.MEDIUM:
        return MONITORING_TOTAL_5_TO_6, RESPONSE_TOTAL_5_TO_6
    if risk is Risk.LOW_MEDIUM:
        return MONITORING_RED_SCORE, RESPONSE_RED_SCORE
    if total == 0:
        return MONITORING_TOTAL_0, RESPONSE_TOTAL_0
    return MONITORING_TOTAL_1_TO_4, RESPONSE_TOTAL_1_TO_4


def monitoring_interval(total: int, risk: Risk) -> timedelta | None:
    """The longest the response chart lets pass after a score of ``total`` at ``risk`` before the
    next observation is due; None when it asks for continuous monitoring (aggregate 7+)."""
    if risk is Risk.HIGH:
        return None
    if risk is Risk.MEDIUM:
        return INTERVAL_TOTAL_5_TO_6
    if risk is Risk.LOW_MEDIUM:
        return INTERVAL_RED_SCORE
    if total == 0:
        return INTERVAL_TOTAL_0
    return INTERVAL_TOTAL_1_TO_4


def score(vitals: Vitals, scale: Spo2Scale = Spo2Scale.SCALE_1) -> News2Score:
    """Score ``vitals`` on the NEWS2 chart; raises :class:`InvalidVitals` if impossible.

    ``scale`` selects the SpO2 row; use ``Spo2Scale.SCALE_2`` only for patients with a
    prescribed 88-92% saturation target.
    """
    consciousness, temperature = _checked(vitals)  # i.e. validate(vitals), keeping the results
    try:
        spo2_scale = Spo2Scale(scale)
    except ValueError:
        raise ValueError("scale must be SCALE_1 or SCALE_2") from None
    on_oxygen = vitals.on_oxygen

    if spo2_scale is Spo2Scale.SCALE_2:
        spo2_score = _score_spo2_scale_2(vitals.spo2, on_oxygen)
    else:
        spo2_score = _score_spo2_scale_1(vitals.spo2)

    parameters = (
        ParameterScore(
            "respirationRate",
            str(vitals.respiration_rate),
            _score_respiration_rate(vitals.respiration_rate),
        ),
        ParameterScore("spo2", str(vitals.spo2), spo2_score),
        ParameterScore(
            "airOrOxygen",
            "OXYGEN" if on_oxygen else "AIR",
            AIR_OR_OXYGEN_OXYGEN_SCORE if on_oxygen else AIR_OR_OXYGEN_AIR_SCORE,
        ),
        ParameterScore(
            "systolicBp", str(vitals.systolic_bp), _score_systolic_bp(vitals.systolic_bp)
        ),
        ParameterScore("pulse", str(vitals.pulse), _score_pulse(vitals.pulse)),
        ParameterScore(
            "consciousness",
            consciousness.value,
            CONSCIOUSNESS_ALERT_SCORE
            if consciousness is Consciousness.ALERT
            else CONSCIOUSNESS_NOT_ALERT_SCORE,
        ),
        ParameterScore("temperature", str(temperature), _score_temperature(temperature)),
    )
    total = sum(p.score for p in parameters)
    red_score = any(p.score == RED_SCORE for p in parameters)
    risk = _risk(total, red_score)
    monitoring, response = _clinical_response(total, risk)
    return News2Score(
        total=total,
        risk=risk,
        red_score=red_score,
        parameters=parameters,
        monitoring=monitoring,
        response=response,
    )
