// The ward board: a reference web client of the public GraphQL API. Everything it shows is read
// with the signed-in user's token, so the database's rules decide what appears; the role checks
// here only choose which questions to ask (and what to say when the answer is "not yours").
"use strict";

const GRAPHQL = "/graphql";
const SESSION_KEY = "wardgraph.board.session";
const WS_PROTOCOL = "graphql-transport-ws";
// Observations below MEDIUM raise no alert, so the ward is also read again every few seconds;
// alerts, our own recordings and a re-established socket refresh it at once.
const REFRESH_MS = 15000;
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
// The socket closes with these when the token no longer holds (wardgraph/server/live.py).
const CLOSE_TOKEN_INVALID = 4401;
const CLOSE_FORBIDDEN = 4403;

// Auditors read the audit trail, not the ward: the API refuses them a bed's occupancy.
const BOARD_ROLES = new Set(["ADMIN", "CLINICIAN", "NURSE", "BILLING"]);
const VITALS_ROLES = new Set(["ADMIN", "CLINICIAN", "NURSE"]);
const RECORDING_ROLES = new Set(["CLINICIAN", "NURSE"]);
const ALERTING_RISKS = new Set(["MEDIUM", "HIGH"]);

const RISK_LABEL = {
  LOW: "Low risk",
  LOW_MEDIUM: "Low–medium risk",
  MEDIUM: "Medium risk",
  HIGH: "High risk",
};

const VIEWER = `query Viewer { viewer { role user { displayName } tenant { name } } }`;
const WARDS = `query Wards { viewer { facilities { id code name wards { id name } } } }`;

const PATIENT_FIELDS = "id mrn givenName familyName";
const VITALS_FIELDS = `latestObservation { id recordedAt nextDueAt
  news2 { total risk redScore monitoring } }`;
const wardQuery = (withVitals) => `query Ward($id: ID!) {
  ward(id: $id) { id name facility { name timezone }
    beds { id label occupied
      currentAdmission { id admittedAt
        patient { ${PATIENT_FIELDS} ${withVitals ? VITALS_FIELDS : ""} } } } }
}`;

const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { token expiresAt }
}`;

const RECORD = `mutation Record($input: RecordObservationInput!) {
  recordObservation(input: $input) { id news2 { total risk } }
}`;

const ALERTS = `subscription Alerts($wardId: ID) {
  news2Alerts(wardId: $wardId) {
    escalationId patientId wardId observationId total risk redScore raisedAt }
}`;

// The limits the API applies (news2.py): checked here first so a slip is caught before sending,
// and the API's own VALIDATION_FAILED still lands on the same field if the two ever disagree.
const VITALS = [
  { field: "respirationRate", low: 0, high: 80, unit: "breaths per minute", whole: true },
  { field: "spo2", low: 0, high: 100, unit: "%", whole: true },
  { field: "systolicBp", low: 20, high: 300, unit: "mmHg", whole: true },
  { field: "pulse", low: 0, high: 300, unit: "beats per minute", whole: true },
  { field: "temperature", low: 25.0, high: 45.0, unit: "°C", whole: false },
];
const FIELD_LABELS = {
  respirationRate: "Respiration rate", spo2: "SpO₂", onOxygen: "Air or oxygen",
  systolicBp: "Systolic BP", pulse: "Pulse", consciousness: "Consciousness",
  temperature: "Temperature",
};

const state = {
  session: null,        // { token, expiresAt, tenant, email }
  viewer: null,
  wardId: null,
  ward: null,
  socket: null,
  socketWardId: null,
  reconnectAttempt: 0,
  reconnectTimer: null,
  refreshTimer: null,
  expiryTimer: null,
  recordingFor: null,   // { patientId, label }
  idempotencyKey: null,
};

const $ = (id) => document.getElementById(id);

// -- GraphQL over HTTP ----------------------------------------------------------------------

class SessionEnded extends Error {}

async function graphql(query, variables, { token } = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(GRAPHQL, {
    method: "POST", headers, body: JSON.stringify({ query, variables: variables || {} }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`The server answered ${response.status}; try again shortly.`);
  }
  const errors = body.errors || [];
  if (token && errors.some((e) => codeOf(e) === "UNAUTHENTICATED")) {
    throw new SessionEnded("Your session has ended; sign in again.");
  }
  return { data: body.data || null, errors };
}

const codeOf = (error) => (error.extensions && error.extensions.code) || "INTERNAL";

function messageOf(errors) {
  const first = errors[0];
  if (!first) return "";
  if (codeOf(first) === "RATE_LIMITED") return "Too many requests; wait a moment and try again.";
  if (codeOf(first) === "INTERNAL") {
    return "Something went wrong on the server" +
      (first.extensions && first.extensions.requestId
        ? ` (request ${first.extensions.requestId}).` : ".");
  }
  return first.message;
}

// -- time -----------------------------------------------------------------------------------

function wardZone() {
  return (state.ward && state.ward.facility.timezone) || undefined;
}

function clock(iso) {
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", timeZone: wardZone(),
  }).format(new Date(iso));
}

function dayAndClock(iso) {
  return new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: wardZone(),
  }).format(new Date(iso));
}

function span(ms) {
  const minutes = Math.round(Math.abs(ms) / 60000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

// -- sign-in and sign-out -------------------------------------------------------------------

function saveSession(session) {
  state.session = session;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (session && new Date(session.expiresAt).getTime() > Date.now()) return session;
  } catch {
    // A damaged entry is the same as none.
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.textContent = "";
  $("sign-in-note").textContent = "";
  const input = {
    tenant: $("tenant").value.trim(), email: $("email").value.trim(),
    password: $("password").value,
  };
  const missing = Object.entries(input).filter(([, value]) => !value).map(([key]) => key);
  if (missing.length) {
    error.textContent = `Enter your ${missing.join(", ")}.`;
    $(missing[0]).focus();
    return;
  }
  const button = event.submitter || $("sign-in").querySelector("button");
  button.disabled = true;
  try {
    const { data, errors } = await graphql(LOGIN, { input });
    if (errors.length || !data || !data.login) {
      error.textContent = messageOf(errors) || "Sign-in failed.";
      return;
    }
    $("password").value = "";
    saveSession({ token: data.login.token, expiresAt: data.login.expiresAt,
                  tenant: input.tenant, email: input.email });
    await start();
  } catch (failure) {
    error.textContent = failure.message || "The server cannot be reached; try again.";
  } finally {
    button.disabled = false;
  }
}

function signOut(reason, { asError = true } = {}) {
  sessionStorage.removeItem(SESSION_KEY);
  closeSocket();
  clearTimeout(state.refreshTimer);
  clearTimeout(state.expiryTimer);
  Object.assign(state, { session: null, viewer: null, ward: null, wardId: null });
  // Nothing of the last user's patients stays on the page.
  $("beds").replaceChildren();
  $("alerts").replaceChildren();
  $("ward-picker").replaceChildren();
  showNote("");
  $("ward-title").textContent = "";
  if ($("record").open) $("record").close();
  $("board").hidden = true;
  for (const id of ["who", "live", "sign-out"]) $(id).hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = asError && typeof reason === "string" ? reason : "";
  $("sign-in-note").textContent = asError ? "" : reason;
  $("tenant").focus();
}

function ended(failure) {
  if (failure instanceof SessionEnded) {
    signOut(failure.message);
    return true;
  }
  return false;
}

// -- the board ------------------------------------------------------------------------------

async function start() {
  const { data, errors } = await graphql(VIEWER, {}, { token: state.session.token });
  if (!data || !data.viewer) {
    signOut(messageOf(errors) || "Cannot read who you are; sign in again.");
    return;
  }
  state.viewer = data.viewer;
  const wait = new Date(state.session.expiresAt).getTime() - Date.now();
  state.expiryTimer = setTimeout(
    () => signOut("Your session has ended; sign in again."), Math.max(wait, 0));

  const user = data.viewer.user;
  $("who").textContent = `${user ? user.displayName : ""} · ${data.viewer.role.toLowerCase()}` +
    ` · ${data.viewer.tenant.name}`;
  $("who").hidden = false;
  $("sign-out").hidden = false;
  $("sign-in").hidden = true;
  $("board").hidden = false;

  const role = data.viewer.role.toLowerCase();
  if (!BOARD_ROLES.has(data.viewer.role)) {
    $("toolbar").hidden = true;
    $("ward-title").textContent = "No ward to show";
    showNote(`The ward board is not available to this role (${role}): it shows patients.`);
    return;
  }
  $("toolbar").hidden = false;
  const wards = await graphql(WARDS, {}, { token: state.session.token });
  if (!wards.data || !wards.data.viewer) {
    $("board-error").textContent = messageOf(wards.errors) || "Cannot read your wards.";
    return;
  }
  const picker = $("ward-picker");
  picker.replaceChildren();
  for (const facility of wards.data.viewer.facilities) {
    if (!facility.wards.length) continue;
    const group = document.createElement("optgroup");
    group.label = `${facility.name} (${facility.code})`;
    for (const ward of facility.wards) {
      const option = document.createElement("option");
      option.value = ward.id;
      option.textContent = `${ward.name} · ${facility.name}`;
      group.append(option);
    }
    picker.append(group);
  }
  showNote(mayReadVitals() ? "" : `Vitals are not available to this role (${role}): ` +
    "the board shows beds and admissions only.");
  if (!picker.options.length) {
    $("ward-title").textContent = "No wards";
    $("board-error").textContent = "You have no ward to show: none of your facilities has one.";
    return;
  }
  const remembered = sessionStorage.getItem(`${SESSION_KEY}.ward`);
  const known = [...picker.options].some((option) => option.value === remembered);
  picker.value = known ? remembered : picker.options[0].value;
  await chooseWard(picker.value);
  $("main").focus();
}

function showNote(text) {
  $("access-note").hidden = !text;
  $("access-note").textContent = text;
}

const mayReadVitals = () => state.viewer && VITALS_ROLES.has(state.viewer.role);
const mayRecord = () => state.viewer && RECORDING_ROLES.has(state.viewer.role);

async function chooseWard(wardId) {
  state.wardId = wardId;
  sessionStorage.setItem(`${SESSION_KEY}.ward`, wardId);
  await refresh();
  if (mayReadVitals()) openSocket();
  else showLive("off", "Live alerts are not available to this role");
}

async function refresh() {
  clearTimeout(state.refreshTimer);
  if (!state.session || !state.wardId) return;
  const wardId = state.wardId;
  try {
    const { data, errors } = await graphql(
      wardQuery(mayReadVitals()), { id: wardId }, { token: state.session.token });
    if (wardId !== state.wardId) return;  // another ward was picked meanwhile
    const refused = errors.filter((e) => codeOf(e) !== "FORBIDDEN");
    $("board-error").textContent = refused.length ? messageOf(refused) : "";
    if (data && data.ward) {
      state.ward = data.ward;
      render(errors.some((e) => codeOf(e) === "FORBIDDEN"));
    } else if (!refused.length) {
      $("board-error").textContent = "This ward is not available to you.";
    }
  } catch (failure) {
    if (ended(failure)) return;
    $("board-error").textContent = "The server cannot be reached; the board retries by itself.";
  }
  state.refreshTimer = setTimeout(refresh, REFRESH_MS);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render(partlyHidden) {
  const ward = state.ward;
  $("ward-title").textContent = `${ward.name} · ${ward.facility.name}`;
  const occupied = ward.beds.filter((bed) => bed.occupied).length;
  $("updated").textContent = `${occupied} of ${ward.beds.length} beds occupied · updated ` +
    new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit",
                                       timeZone: wardZone() }).format(new Date());
  const items = ward.beds.map((bed) => renderBed(bed, partlyHidden));
  $("beds").replaceChildren(...items);
}

function renderBed(bed, partlyHidden) {
  const item = el("li", "bed");
  item.dataset.bed = bed.label;
  const head = el("div", "bed-head");
  head.append(el("h3", "bed-label", `Bed ${bed.label}`));
  item.append(head);
  const admission = bed.currentAdmission;
  if (!admission) {
    item.classList.add("empty");
    item.append(el("p", "muted", bed.occupied ?
      (partlyHidden ? "Occupied · patient details are not available to this role" : "Occupied")
      : "Empty"));
    return item;
  }
  const patient = admission.patient;
  item.dataset.patient = patient.id;
  item.append(el("p", "patient", `${patient.familyName.toUpperCase()}, ${patient.givenName}`));
  const facts = el("p", "facts");
  facts.append(el("span", "", `MRN ${patient.mrn}`), " · ",
               el("span", "", `admitted ${dayAndClock(admission.admittedAt)}`));
  item.append(facts);

  if (!mayReadVitals()) {
    item.append(el("p", "muted vitals-hidden", "Vitals not available to this role"));
    return item;
  }
  const observation = patient.latestObservation;
  if (!observation) {
    head.append(el("span", "risk risk-NONE", "No NEWS2"));
    item.append(el("p", "due due-now", "No observations yet · first set due now"));
  } else {
    const { total, risk, redScore, monitoring } = observation.news2;
    item.classList.add(`bed-${risk}`);
    const badge = el("span", `risk risk-${risk}`);
    badge.append(el("span", "total", String(total)), ` ${RISK_LABEL[risk]}`);
    badge.setAttribute("aria-label", `NEWS2 ${total}, ${RISK_LABEL[risk]}`);
    head.append(badge);
    const detail = el("p", "facts");
    detail.append(`NEWS2 ${total}${redScore ? " · red score" : ""} at `,
                  el("time", "", clock(observation.recordedAt)));
    item.append(detail);
    item.append(el("p", "monitoring", monitoring));
    item.append(dueLine(observation.nextDueAt));
  }
  if (mayRecord()) {
    const button = el("button", "record-button", "Record observations");
    button.type = "button";
    button.setAttribute("aria-label",
      `Record observations for ${patient.givenName} ${patient.familyName}, bed ${bed.label}`);
    button.addEventListener("click", () => openRecording(patient, bed.label));
    item.append(button);
  }
  return item;
}

function dueLine(nextDueAt) {
  if (!nextDueAt) return el("p", "due due-continuous", "Monitor continuously");
  const left = new Date(nextDueAt).getTime() - Date.now();
  if (left < 0) {
    return el("p", "due overdue", `OVERDUE by ${span(left)} (was due ${clock(nextDueAt)})`);
  }
  return el("p", "due", `Next due ${clock(nextDueAt)} (in ${span(left)})`);
}

// -- live alerts (graphql-transport-ws) -----------------------------------------------------

function showLive(kind, text) {
  const live = $("live");
  live.hidden = false;
  live.dataset.state = kind;
  $("live-text").textContent = text;
}

function closeSocket() {
  clearTimeout(state.reconnectTimer);
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.close(1000, "done");
}

function openSocket() {
  closeSocket();
  if (!state.session) return;
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${GRAPHQL}`;
  const socket = new WebSocket(url, WS_PROTOCOL);
  const wardId = state.wardId;
  state.socket = socket;
  showLive("connecting", "Connecting to live alerts…");
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({
      type: "connection_init", payload: { Authorization: `Bearer ${state.session.token}` },
    }));
  });
  socket.addEventListener("message", (event) => {
    if (socket !== state.socket) return;
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === "connection_ack") {
      const caughtUp = state.reconnectAttempt > 0;
      state.reconnectAttempt = 0;
      socket.send(JSON.stringify({ id: "alerts", type: "subscribe",
                                   payload: { query: ALERTS, variables: { wardId } } }));
      showLive("connected", "Live: connected");
      if (caughtUp) refresh();  // what happened while the socket was down
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload && message.payload.data) {
      onAlert(message.payload.data.news2Alerts);
    } else if (message.type === "error") {
      showLive("error", "Live alerts refused: " + messageOf(message.payload || []));
    }
  });
  socket.addEventListener("close", (event) => {
    if (socket !== state.socket) return;  // closed on purpose (ward change, sign-out)
    state.socket = null;
    if (event.code === CLOSE_TOKEN_INVALID || event.code === CLOSE_FORBIDDEN) {
      signOut("Your session has ended; sign in again.");
      return;
    }
    const delay = RECONNECT_DELAYS_MS[
      Math.min(state.reconnectAttempt, RECONNECT_DELAYS_MS.length - 1)];
    state.reconnectAttempt += 1;
    showLive("reconnecting", `Disconnected · reconnecting in ${Math.ceil(delay / 1000)} s`);
    state.reconnectTimer = setTimeout(openSocket, delay);
  });
}

function onAlert(alert) {
  if (!alert) return;
  refresh();
  if (!ALERTING_RISKS.has(alert.risk)) return;
  const bed = state.ward && state.ward.beds.find(
    (b) => b.currentAdmission && b.currentAdmission.patient.id === alert.patientId);
  const who = bed ? `${bed.currentAdmission.patient.givenName} ` +
    `${bed.currentAdmission.patient.familyName}, bed ${bed.label}` : "A patient of this ward";
  const box = el("div", `alert alert-${alert.risk}`);
  box.dataset.escalation = alert.escalationId;
  const text = el("p");
  text.append(el("strong", "", `${alert.risk === "HIGH" ? "HIGH" : "MEDIUM"} NEWS2 ${alert.total}`),
              ` · ${who} · at ${clock(alert.raisedAt)}. ` +
              (alert.risk === "HIGH" ? "Urgent response: inform the critical care team."
                                     : "Urgent ward-based response: inform the clinician."));
  const dismiss = el("button", "secondary", "Acknowledge");
  dismiss.type = "button";
  dismiss.setAttribute("aria-label", `Acknowledge the alert for ${who}`);
  dismiss.addEventListener("click", () => box.remove());
  box.append(text, dismiss);
  // The sickest first: HIGH alerts above every MEDIUM one, each kind newest first.
  const alerts = $("alerts");
  const highs = alerts.querySelectorAll(".alert-HIGH");
  if (alert.risk === "MEDIUM" && highs.length) highs[highs.length - 1].after(box);
  else alerts.prepend(box);
}

// -- recording ------------------------------------------------------------------------------

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function openRecording(patient, bedLabel) {
  state.recordingFor = { patientId: patient.id, bedLabel };
  // One key per set of vitals: a retry after a lost answer records it once.
  state.idempotencyKey = newKey();
  const form = $("record-form");
  form.reset();
  clearFieldErrors();
  $("record-patient").textContent =
    `${patient.givenName} ${patient.familyName} · MRN ${patient.mrn} · bed ${bedLabel}`;
  $("record").showModal();
  $("respirationRate").focus();
}

function clearFieldErrors() {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of document.querySelectorAll("#record-form [aria-invalid]")) {
    node.removeAttribute("aria-invalid");
  }
  $("record-error").textContent = "";
}

function fieldError(field, message) {
  const input = $(field);
  const slot = $(`${field}-error`);
  if (!input || !slot) return false;
  input.setAttribute("aria-invalid", "true");
  slot.textContent = message;
  return true;
}

function readVitals() {
  const values = {};
  const problems = [];
  for (const rule of VITALS) {
    const raw = $(rule.field).value.trim();
    const label = FIELD_LABELS[rule.field];
    const value = Number(raw);
    if (raw === "" || !Number.isFinite(value)) {
      problems.push([rule.field, `${label}: enter a number`]);
      continue;
    }
    if (rule.whole && !Number.isInteger(value)) {
      problems.push([rule.field, `${label} must be a whole number`]);
      continue;
    }
    // The API stores temperature rounded half up to one decimal, then checks the range.
    const checked = rule.whole ? value : Math.round(value * 10 + 1e-9) / 10;
    if (checked < rule.low || checked > rule.high) {
      problems.push([rule.field,
                     `${label} must be between ${rule.low} and ${rule.high} ${rule.unit}`]);
      continue;
    }
    values[rule.field] = checked;
  }
  values.onOxygen = $("onOxygen").value === "true";
  values.consciousness = $("consciousness").value;
  return { values, problems };
}

async function submitRecording(event) {
  event.preventDefault();
  clearFieldErrors();
  const { values, problems } = readVitals();
  if (problems.length) {
    for (const [field, message] of problems) fieldError(field, message);
    $(problems[0][0]).focus();
    return;
  }
  const submit = $("record-submit");
  submit.disabled = true;
  try {
    const input = { ...values, patientId: state.recordingFor.patientId,
                    idempotencyKey: state.idempotencyKey };
    const { data, errors } = await graphql(RECORD, { input }, { token: state.session.token });
    if (errors.length) {
      const first = errors[0];
      const field = first.extensions && first.extensions.field;
      if (!(field && fieldError(field, first.message))) {
        $("record-error").textContent = messageOf(errors);
      }
      return;
    }
    const score = data.recordObservation.news2;
    $("record").close();
    $("updated").textContent = `Saved: NEWS2 ${score.total}, ${RISK_LABEL[score.risk]}`;
    await refresh();
  } catch (failure) {
    if (!ended(failure)) $("record-error").textContent = "Not saved: the server cannot be " +
      "reached. Try again; the observation is recorded once.";
  } finally {
    submit.disabled = false;
  }
}

// -- wiring ---------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener(
    "click", () => signOut("You have signed out.", { asError: false }));
  $("ward-picker").addEventListener("change", (event) => {
    $("alerts").replaceChildren();
    chooseWard(event.target.value);
  });
  $("record-form").addEventListener("submit", submitRecording);
  $("record-cancel").addEventListener("click", () => $("record").close());
  const session = loadSession();
  if (session) {
    state.session = session;
    start().catch((failure) => {
      if (!ended(failure)) signOut("The server cannot be reached; sign in again.");
    });
  } else {
    $("tenant").focus();
  }
});
