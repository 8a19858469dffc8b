"""The app in a real browser: headless Chromium (Debian's, at /usr/bin/chromium) driven by
Playwright, against the app served over HTTP on 127.0.0.1 with CSRF protection on, so every form
goes through its real token. The pages keep their Content-Security-Policy: Playwright's
``evaluate`` is not subject to it, but a string expression for ``wait_for_function`` is (it is
eval'd), so every predicate here is written as a function."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support import PASSWORD, World, require

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture reports it, through require()
    expect = sync_playwright = None

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Response

# CSRF on: the browser logs in, and states purposes, through the real forms and their tokens.
pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google, which the closed network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # play() from page.evaluate has no user gesture behind it.
    "--autoplay-policy=no-user-gesture-required",
]
WAIT_MS = 5_000


@pytest.fixture
def base_url(app: Flask, world: World) -> Iterator[str]:
    assert app.config["WTF_CSRF_ENABLED"], "the browser must go through the forms' CSRF tokens"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tallenne-http", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(sync_playwright is not None, "Playwright for Python is not installed")
    require(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: install Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh profile (no cookies) in Finnish, the app's default language. Closed before the
    server stops, so no connection outlives it."""
    context = browser.new_context(base_url=base_url, locale="fi-FI")
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url("**/calls")


def is_audio_of(call_id: int) -> Any:
    path = f"/calls/{call_id}/audio"
    return lambda response: response.url.endswith(path)


def audio_responses(page: Page, call_id: int) -> list[Response]:
    """Every response the page gets for this call's recording, in order."""
    seen: list[Response] = []
    wanted = is_audio_of(call_id)

    def record(response: Response) -> None:
        if wanted(response):
            seen.append(response)

    page.on("response", record)
    return seen


def media_state(player: Locator) -> dict[str, Any]:
    return player.evaluate(
        """a => ({readyState: a.readyState, currentTime: a.currentTime, paused: a.paused,
                  seeking: a.seeking, duration: a.duration,
                  error: a.error && {code: a.error.code, message: a.error.message}})"""
    )


def wait_until(player: Locator, predicate: str) -> None:
    """Wait for ``predicate(audio)``; on a timeout, say what state the element was in."""
    try:
        player.page.wait_for_function(predicate, arg=player.element_handle())
    except Exception as exc:
        raise AssertionError(f"{predicate} never held: {media_state(player)}") from exc


def focused(page: Page) -> str:
    """The focused element, described like a CSS selector."""
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                          + (e.className ? '.' + e.className : ''); }"""
    )


def test_agent_logs_in_opens_her_call_and_plays_it(page: Page, world: World) -> None:
    call = world.calls["aino"]
    responses = audio_responses(page, call.id)

    page.goto("/login")
    page.locator("#username").press_sequentially("aino")
    page.locator("#password").press_sequentially(PASSWORD)
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_url("**/calls")
    link = page.locator(f'table.calls a[href="/calls/{call.id}"]')
    expect(link).to_be_visible()
    expect(page.locator(f'a[href="/calls/{world.calls["eero"].id}"]')).to_have_count(0)

    with page.expect_response(is_audio_of(call.id)) as first:
        link.click()
    page.wait_for_url(f"**/calls/{call.id}")
    size = call.recording_bytes
    assert first.value.status == 206
    assert first.value.request.header_value("range") == "bytes=0-"
    assert first.value.header_value("content-range") == f"bytes 0-{size - 1}/{size}"

    player = page.locator("audio#player")
    wait_until(player, "a => a.readyState >= 2")  # HAVE_CURRENT_DATA
    assert media_state(player)["duration"] == pytest.approx(2.0, abs=0.01)

    player.evaluate("a => a.play()")  # its promise resolves once playback has begun
    wait_until(player, "a => a.currentTime > 0")
    now = media_state(player)
    assert now["error"] is None and not now["paused"], now

    # The browser already holds all of this short recording, so this seek asks for nothing new
    # (the next test makes one that must); it has to land, and the element be ready again.
    player.evaluate("a => { a.pause(); a.currentTime = 1.5; }")
    wait_until(player, "a => !a.seeking && a.readyState >= 2")
    now = media_state(player)
    assert now["currentTime"] == pytest.approx(1.5, abs=0.01) and now["error"] is None, now
    assert [r.status for r in responses] == [206] * len(responses)


def test_seeking_far_into_a_long_recording_fetches_a_range(page: Page, world: World) -> None:
    """With preload="metadata" Chromium stops reading a long recording early (it aborts the
    first request), so a seek towards the end has to be served from mid-file with a 206."""
    when = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    call = world.add_call("long", "aino", seconds=120, started_at=when)
    size = call.recording_bytes
    responses = audio_responses(page, call.id)
    log_in(page, "aino")
    page.goto(f"/calls/{call.id}")
    player = page.locator("audio#player")
    wait_until(player, "a => a.readyState >= 1")  # HAVE_METADATA
    assert responses and responses[0].status == 206, responses
    assert responses[0].request.header_value("range") == "bytes=0-"

    def is_ranged(response: Response) -> bool:
        return is_audio_of(call.id)(response) and response.request.header_value("range") not in (
            None,
            "bytes=0-",
        )

    with page.expect_response(is_ranged) as ranged:
        player.evaluate("a => { a.currentTime = 115; }")
    wait_until(player, "a => !a.seeking && a.readyState >= 2")
    response = ranged.value
    asked = response.request.header_value("range")
    start = int(asked.removeprefix("bytes=").removesuffix("-"))
    assert response.status == 206, (asked, response.status)
    assert 0 < start < size, asked
    assert response.header_value("content-range") == f"bytes {start}-{size - 1}/{size}"
    assert media_state(player)["currentTime"] == pytest.approx(115, abs=0.01)

    player.evaluate("a => a.play()")
    wait_until(player, "a => a.currentTime > 115")
    assert media_state(player)["error"] is None


def test_supervisor_states_a_purpose_before_the_player_appears(page: Page, world: World) -> None:
    # aino's call, not eero's: eero's is in the sales register, which has no complaint purpose.
    call = world.calls["aino"]
    responses = audio_responses(page, call.id)
    log_in(page, "sanna")
    page.goto(f"/calls/{call.id}")
    purpose = page.locator("select#purpose")
    submit = page.locator("form[action$='/purpose'] button[type=submit]")
    expect(purpose).to_be_visible()
    expect(page.locator("audio")).to_have_count(0)

    purpose.select_option(value="complaint")
    submit.click()
    expect(page.locator(".messages .error")).to_have_text(
        "Tämä käyttötarkoitus vaatii asiaviitteen."
    )
    expect(page.locator("audio")).to_have_count(0)
    assert responses == []

    purpose.select_option(value="complaint")
    page.locator("#case_ref").fill("REK-2026-17")
    with page.expect_response(is_audio_of(call.id)) as first:
        submit.click()
    assert first.value.status == 206
    expect(page.locator("p.purpose")).to_contain_text("REK-2026-17")
    player = page.locator("audio#player")
    wait_until(player, "a => a.readyState >= 2")
    assert media_state(player)["error"] is None


def test_login_by_keyboard_alone(page: Page, world: World) -> None:
    page.goto("/login")
    expect(page.locator("input#username")).to_be_focused()  # autofocus, once the page is in

    # Nothing comes before the skip link: walking back from the username field ends on it.
    walked = []
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if focused(page) == "body":
            break
        walked.append(focused(page))
    assert walked and walked[-1] == "a.skip", walked

    page.goto("/login")
    expect(page.locator("input#username")).to_be_focused()
    page.keyboard.type("aino")
    page.keyboard.press("Tab")
    assert focused(page) == "input#password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/calls")

    # A page without autofocus: the first Tab lands on the skip link, which then comes into
    # view, and following it puts the focus on the main content.
    page.keyboard.press("Tab")
    assert focused(page) == "a.skip"
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["x"] >= 0, box
    page.keyboard.press("Enter")
    assert focused(page) == "main#main"


def test_a_supervisor_pins_a_comment_and_the_agent_jumps_to_it(
    browser: Browser, page: Page, base_url: str, world: World
) -> None:
    when = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
    call = world.add_call("reviewed", "aino", seconds=30, started_at=when)
    log_in(page, "sanna")
    page.goto(f"/calls/{call.id}")
    page.locator("form[action$='/review'] button[type=submit]").click()
    page.wait_for_url("**/reviews/*")
    review_url = page.url

    # Click the timeline at 40 %: the player goes there, and the comment form takes the moment.
    player = page.locator("audio#player")
    wait_until(player, "a => a.readyState >= 1")
    timeline = page.locator("svg#timeline")
    box = timeline.bounding_box()
    timeline.click(position={"x": box["width"] * 0.4, "y": box["height"] / 2})
    wait_until(player, "a => !a.seeking && Math.abs(a.currentTime - 12) < 0.5")
    expect(page.locator("input#moment")).to_have_value("0:12")
    page.locator("textarea#body").fill("Tässä asiakas kysyy laskusta: hyvä vastaus.")
    page.locator("form.comment-form button[type=submit]").click()
    expect(page.locator("ol.comments a.moment")).to_have_text("▶ 0:12")
    expect(page.locator("svg#timeline a.marker")).to_have_count(1)

    for criterion in world.scorecard.criteria:
        page.locator(f"input[name='c{criterion.id}'][value='{criterion.scale_max}']").check()
    page.locator("textarea#comment").fill("Erinomainen puhelu.")
    page.locator("button[name=publish]").click()
    expect(page.locator(".messages .ok")).to_be_visible()
    expect(page.locator("form.scorecard-form")).to_have_count(0)

    # The agent, in a browser of her own, opens her feedback and jumps to the moment.
    context = browser.new_context(base_url=base_url, locale="fi-FI")
    context.set_default_timeout(WAIT_MS)
    try:
        agent = context.new_page()
        log_in(agent, "aino")
        agent.goto("/reviews")
        agent.locator(f"a[href='{review_url.removeprefix(base_url)}']").click()
        expect(agent.locator("p.lines").first).to_have_text(
            "Tässä asiakas kysyy laskusta: hyvä vastaus."
        )
        player = agent.locator("audio#player")
        wait_until(player, "a => a.readyState >= 1")
        assert media_state(player)["currentTime"] == 0
        agent.locator("ol.comments a.moment").click()
        wait_until(player, "a => !a.seeking && a.currentTime >= 12 && !a.paused")
        assert media_state(player)["currentTime"] == pytest.approx(12, abs=1.0)
        assert agent.url.endswith(review_url.removeprefix(base_url))  # no reload: the script
        agent.locator("form[action$='/acknowledge'] button").click()
        expect(agent.locator(".messages .ok")).to_be_visible()
    finally:
        context.close()
