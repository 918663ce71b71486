"""Database errors as client errors, by constraint name and SQLSTATE, in one place.

The constraint decides; the resolver may have looked first only to word a friendlier message.
Database text never reaches a client: anything not mapped here becomes INTERNAL.
"""

from __future__ import annotations

import asyncpg

from wardgraph import errors
from wardgraph.errors import AppError

# What a lost or unreachable database raises (rather than a PostgresError with a SQLSTATE).
UNAVAILABLE = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, ConnectionError,
               OSError, TimeoutError)

# constraint name -> (code, field, message)
CONSTRAINTS: dict[str, tuple[str, str | None, str]] = {
    "admissions_one_active_per_bed": (
        errors.BED_OCCUPIED, "bedId", "The bed is occupied"),
    "admissions_one_active_per_patient": (
        errors.PATIENT_ALREADY_ADMITTED, "patientId", "The patient is already admitted"),
    "bed_stays_patient_no_overlap": (
        errors.STAY_OVERLAPS, None, "The patient has another stay at that time"),
    "bed_stays_no_overlap": (
        errors.STAY_OVERLAPS, None, "The bed has another stay at that time"),
    "admissions_discharge_after_admit": (
        errors.VALIDATION_FAILED, "dischargedAt", "Discharge must come after admission"),
    "bed_stays_end_after_start": (
        errors.VALIDATION_FAILED, "at", "A transfer must come after the stay began"),
    "facilities_code_unique": (
        errors.VALIDATION_FAILED, "code", "A facility with this code already exists"),
    "facilities_code_format": (
        errors.VALIDATION_FAILED, "code",
        "A facility code is 2 to 12 upper-case letters or digits"),
    "facilities_name_length": (
        errors.VALIDATION_FAILED, "name", "A name is 1 to 200 characters"),
    "facilities_currency_format": (
        errors.VALIDATION_FAILED, "currency", "A currency is a three-letter ISO 4217 code"),
    "iana_time_zone_known": (
        errors.VALIDATION_FAILED, "timezone",
        "Unknown time zone: use an IANA name such as Asia/Dhaka"),
    "wards_name_unique": (
        errors.VALIDATION_FAILED, "name", "A ward with this name already exists in the facility"),
    "wards_name_length": (
        errors.VALIDATION_FAILED, "name", "A name is 1 to 200 characters"),
    "wards_daily_rate_nonnegative": (
        errors.VALIDATION_FAILED, "dailyRate", "The daily rate cannot be negative"),
    "beds_label_unique": (
        errors.VALIDATION_FAILED, "label", "A bed with this label already exists in the ward"),
    "beds_label_length": (
        errors.VALIDATION_FAILED, "label", "A label is 1 to 50 characters"),
    "users_email_unique": (
        errors.VALIDATION_FAILED, "email", "A user with this e-mail already exists"),
    "users_email_format": (
        errors.VALIDATION_FAILED, "email", "Not an e-mail address"),
    "patients_mrn_unique": (
        errors.VALIDATION_FAILED, "mrn", "A patient with this MRN already exists"),
    "patients_mrn_format": (
        errors.VALIDATION_FAILED, "mrn", "An MRN is 1 to 32 letters, digits or hyphens"),
    "patients_given_name_length": (
        errors.VALIDATION_FAILED, "givenName", "A name is 1 to 100 characters"),
    "patients_family_name_length": (
        errors.VALIDATION_FAILED, "familyName", "A name is 1 to 100 characters"),
    "partner_tokens_name_length": (
        errors.VALIDATION_FAILED, "name", "A name is 1 to 200 characters"),
    "partner_tokens_scopes_known": (
        errors.VALIDATION_FAILED, "scopes", "Unknown scope"),
    "observations_idempotency_key_length": (
        errors.VALIDATION_FAILED, "idempotencyKey", "An idempotency key is 1 to 200 characters"),
    # news2.validate refuses these first, with the same limits; the checks hold for any writer.
    "observations_respiration_rate_range": (
        errors.VALIDATION_FAILED, "respirationRate", "Respiration rate is out of range"),
    "observations_spo2_range": (
        errors.VALIDATION_FAILED, "spo2", "SpO2 is out of range"),
    "observations_systolic_bp_range": (
        errors.VALIDATION_FAILED, "systolicBp", "Systolic blood pressure is out of range"),
    "observations_pulse_range": (
        errors.VALIDATION_FAILED, "pulse", "Pulse is out of range"),
    "observations_temperature_range": (
        errors.VALIDATION_FAILED, "temperature", "Temperature is out of range"),
    # Raised by app.accrue_bed_days() and app.daily_report() (policies/bed_days.sql,
    # reports.sql), which hold these rules for every caller.
    "bed_days_through_has_ended": (
        errors.VALIDATION_FAILED, "through",
        "That local date has not ended at the facility yet: its midnight is still to come"),
    "daily_report_range": (
        errors.VALIDATION_FAILED, "to", "A report covers 1 to 366 dates, `from` first"),
}

INVALID_TEXT_REPRESENTATION = "22P02"
NUMERIC_OUT_OF_RANGE = "22003"
STRING_TOO_LONG = "22001"
QUERY_CANCELED = "57014"
DEADLOCK_DETECTED = "40P01"
# The server shut down or crashed under the request, or is still starting up (57P01-57P03),
# or the connection itself failed (class 08): nothing the client did, and worth a retry.
SERVER_GONE = ("57P01", "57P02", "57P03")
CONNECTION_EXCEPTION_CLASS = "08"


def to_app_error(error: asyncpg.PostgresError) -> AppError | None:
    """The client error for a database error, or None when it is not the client's doing."""
    constraint = getattr(error, "constraint_name", None)
    if constraint in CONSTRAINTS:
        code, field, message = CONSTRAINTS[constraint]
        return AppError(code, message, field=field)
    if isinstance(error, asyncpg.ForeignKeyViolationError):
        # A reference to a row that does not exist or belongs to another tenant: the composite
        # (tenant_id, id) key refuses both alike.
        return errors.not_found()
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        if "row-level security" in str(error):
            return errors.not_found()
        return errors.forbidden("Your role may not read or change this")
    if error.sqlstate == DEADLOCK_DETECTED:
        # Two requests waited on each other (two patients swapping beds at the same instant);
        # Postgres undid this one whole, so sending it again is safe.
        return AppError(errors.SERVICE_UNAVAILABLE,
                        "A simultaneous change got in the way; try again")
    if error.sqlstate in SERVER_GONE or (error.sqlstate or "").startswith(
            CONNECTION_EXCEPTION_CLASS):
        return errors.unavailable()
    if error.sqlstate == QUERY_CANCELED:
        return AppError(errors.QUERY_TOO_COMPLEX, "The request took too long and was cancelled")
    if error.sqlstate in (INVALID_TEXT_REPRESENTATION, NUMERIC_OUT_OF_RANGE, STRING_TOO_LONG):
        return AppError(errors.VALIDATION_FAILED, "A value is out of range or malformed")
    return None
