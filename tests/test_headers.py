from __future__ import annotations

import pytest

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize(
    "path, headers, status",
    [
        ("/calls", {}, 200),
        ("/calls/{id}", {}, 200),
        ("/calls/{id}/audio", {"Range": "bytes=0-9"}, 206),
        ("/calls/{id}/export", {}, 200),
        ("/calls/999999", {}, 404),
        ("/healthz", {}, 200),
    ],
)
def test_every_kind_of_response_carries_the_headers(world, login_as, path, headers, status):
    client = login_as("aino")
    response = client.get(path.format(id=world.calls["aino"].id), headers=headers)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_login_page_has_headers_and_no_external_assets(client) -> None:
    response = client.get("/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert "http://" not in response.text and "https://" not in response.text


def test_static_assets_are_served_by_the_app_and_may_be_cached(client) -> None:
    with client.get("/static/tallenne.css") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"
        assert "@import" not in response.text and "url(http" not in response.text


def test_not_found_page_shows_no_personal_data(world, login_as) -> None:
    missing = login_as("eero").get(f"/calls/{world.calls['aino'].id}").text
    assert (
        "+358" not in missing
        and "Maija" not in missing
        and "Aino" not in missing.split('<div class="who">')[0]
    )
