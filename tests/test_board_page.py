"""The ward board's static page at /board, without a browser: it is served from the package with
headers that keep it to its own origin, every control has a label, and its script asks the API
only through /graphql. tests/test_board_browser.py drives it in Chromium."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.harness import Api
from wardgraph.server.board_page import BOARD_DIRECTORY


class Controls(HTMLParser):
    """The form controls of a page and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.language: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.language = attributes.get("lang")
        if tag in {"input", "select", "textarea"}:
            self.controls.append(attributes)
        if tag == "label" and attributes.get("for"):
            self.labelled.add(str(attributes["for"]))


async def test_board_redirects_to_its_folder_so_relative_files_load(api: Api) -> None:
    response = await api.client.get("/board", follow_redirects=False)
    assert response.status_code in {307, 308}
    assert response.headers["location"].endswith("/board/")


async def test_board_page_is_served_as_html_with_a_same_origin_policy(api: Api) -> None:
    response = await api.client.get("/board/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script src="board.js"' in response.text


@pytest.mark.parametrize(("path", "media_type"), [
    pytest.param("/board/board.js", "text/javascript", id="script"),
    pytest.param("/board/board.css", "text/css", id="styles"),
])
async def test_board_files_are_served_with_their_media_type(
        api: Api, path: str, media_type: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


def test_every_board_control_has_a_label() -> None:
    page = Controls()
    page.feed((BOARD_DIRECTORY / "index.html").read_text(encoding="utf-8"))
    assert page.language == "en"
    ids = [control.get("id") for control in page.controls]
    assert len(ids) >= 10  # sign-in (3), ward picker, seven vitals
    unlabelled = [i for i in ids if i is None or i not in page.labelled]
    assert unlabelled == []


def test_board_page_scales_to_a_phone_screen() -> None:
    html = (BOARD_DIRECTORY / "index.html").read_text(encoding="utf-8")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


def test_board_script_talks_only_to_the_graphql_endpoint() -> None:
    script = (BOARD_DIRECTORY / "board.js").read_text(encoding="utf-8")
    assert 'const GRAPHQL = "/graphql";' in script
    assert "fetch(GRAPHQL" in script and script.count("fetch(") == 1
    # Patients' names reach the page as text, never as markup.
    assert "innerHTML" not in script


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a #rrggbb colour."""
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(("text", "background"), [
    pytest.param("low-ink", "low", id="low-risk-badge"),
    pytest.param("low-medium-ink", "low-medium", id="low-medium-risk-badge"),
    pytest.param("medium-ink", "medium", id="medium-risk-badge-and-alert"),
    pytest.param("high-ink", "high", id="high-risk-badge-and-alert"),
    pytest.param("ink", "paper", id="body-text"),
    pytest.param("muted", "card", id="bed-details"),
    pytest.param("error", "paper", id="error-text"),
    pytest.param("card", "error", id="overdue-flag"),
])
def test_board_colours_meet_wcag_aa_contrast(text: str, background: str) -> None:
    css = (BOARD_DIRECTORY / "board.css").read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    assert contrast(colours[text], colours[background]) >= 4.5
