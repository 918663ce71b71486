"""GraphQL over HTTP as clients expect it (the GraphQL-over-HTTP specification).

- The response media type follows the Accept header: `application/graphql-response+json` or
  `application/json` (also for `*/*`, `application/*` and no Accept at all); an Accept that
  allows neither answers 406.
- A request error (the document did not parse or validate, or a limit refused it: no execution
  and so no `data`) answers 4xx with `application/graphql-response+json`, and 200 with
  `application/json`, whose older clients read the body whatever the status.
- A mutation over GET answers 405 with `Allow: POST`.
- Refusals before GraphQL runs (405, 406, 413, 415, 429, a malformed body) have a JSON body of
  the usual shape: `{"errors": [{"message", "extensions": {"code"}}]}`.
- A malformed body answers 400 BAD_REQUEST, whatever is wrong with it: not UTF-8, not JSON,
  JSON that is not an object (a string, a number, null), or JSON nested deeper than
  MAX_JSON_DEPTH (the parser recurses, and a thousand levels exhaust Python's stack).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response

from wardgraph import errors

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
BAD_REQUEST = "BAD_REQUEST"


class HttpRefusal(Exception):
    """A request refused before GraphQL runs, with its status, code and headers."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """(media type, q) of each range of an Accept header."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.lower(), q))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither we speak."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for media, q in _media_ranges(accept):
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            # On a tie, the spec's own media type wins.
            candidate = (q, 1, GRAPHQL_RESPONSE_JSON)
        elif media in (JSON, "application/*", "*/*"):
            candidate = (q, 0, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def is_request_error(data: Any, graphql_errors: list[GraphQLError] | None) -> bool:
    """No data and only errors from before execution (parse, validation, variables, limits)."""
    return data is None and bool(graphql_errors) and all(
        error.path is None for error in graphql_errors or ())


def request_error_status(codes: list[str]) -> int:
    """The 4xx/5xx of a request error answered as application/graphql-response+json."""
    if errors.SERVICE_UNAVAILABLE in codes:
        return 503
    if errors.INTERNAL in codes:
        return 500
    return 400


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def refusal_response(refusal: HttpRefusal, media_type: str = JSON) -> Response:
    return Response(error_body(refusal.code, refusal.message), status_code=refusal.status,
                    media_type=media_type, headers=refusal.headers)


def parsing_refusal(status: int, reason: str) -> HttpRefusal:
    """A strawberry HTTP error (malformed JSON, a missing query, a wrong method) as ours."""
    if status == 400 and reason == "Unsupported content type":
        return HttpRefusal(415, BAD_REQUEST, "Send the request as application/json (POST) "
                           "or as URL parameters (GET)")
    return HttpRefusal(status, BAD_REQUEST, reason)


# No request of this schema nests deeper than this; the JSON parser recurses once per level.
MAX_JSON_DEPTH = 64
_OPENERS = frozenset(b"[{")


def decode_request_json(data: str | bytes) -> object:
    """A request's JSON (its body, or a GET's variables), or an HttpRefusal saying what is
    wrong with it."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpRefusal(400, BAD_REQUEST, "The request body is not valid UTF-8") from None
    try:
        decoded = json.loads(data)
    except RecursionError:
        decoded = None
    except ValueError:
        raise HttpRefusal(400, BAD_REQUEST, "Unable to parse request body as JSON") from None
    else:
        if json_depth(decoded) <= MAX_JSON_DEPTH:
            return decoded
    raise HttpRefusal(400, BAD_REQUEST, f"The JSON is nested more than {MAX_JSON_DEPTH} "
                      "levels deep")


def json_depth(value: object) -> int:
    """How deep arrays and objects nest in a decoded JSON value (without recursion)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return depth
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in item if isinstance(child, dict | list))
    return deepest


def require_json_object(body: bytes) -> None:
    """Refuse a body whose JSON is not an object (or a batch: an array), judged by its first
    character; what follows is parsed, and refused if malformed, by the usual parser."""
    start = body.lstrip()[:1]
    if start and start[0] not in _OPENERS:
        raise HttpRefusal(400, BAD_REQUEST, "The request body must be a JSON object, e.g. "
                          '{"query": "{ viewer { role } }"}')


def encode_response(data: object) -> bytes:
    """The response as JSON. Text that is not valid Unicode (a lone surrogate the client sent
    and an error message repeats) is escaped rather than failing the whole response."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError: "str is not valid UTF-8: surrogates ..."
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode()
