"""Bundles: searchset pages with their links, and the answer to a transaction."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URL, QueryParams

from wardgraph.server.fhir.resources import Resource

PAGE_PARAMETER = "_page"


def full_url(base: str, resource: Resource) -> str:
    return f"{base}/{resource['resourceType']}/{resource['id']}"


def searchset(base: str, url: URL, resources: list[Resource],
              next_page: str | None = None) -> Resource:
    """A page of matches. `next` carries the same search with the next page's cursor; the
    cursor is signed, so a client cannot forge a position."""
    links = [{"relation": "self", "url": str(url)}]
    if next_page is not None:
        links.append({"relation": "next", "url": str(
            url.remove_query_params(PAGE_PARAMETER).include_query_params(
                **{PAGE_PARAMETER: next_page}))})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links,
                              "entry": [{"fullUrl": full_url(base, r), "resource": r,
                                         "search": {"mode": "match"}} for r in resources]}
    if next_page is None and PAGE_PARAMETER not in QueryParams(url.query):
        bundle["total"] = len(resources)  # one page holds every match
    return bundle


def transaction_response(base: str, resources: list[Resource], created: bool) -> Resource:
    """One entry per entry of the transaction, in its order: 201 for a new recording, 200 for a
    retry answered with the recording it repeats."""
    status = "201 Created" if created else "200 OK"
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"fullUrl": full_url(base, r), "resource": r,
         "response": {"status": status, "location": f"{r['resourceType']}/{r['id']}"}}
        for r in resources]}
