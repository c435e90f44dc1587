"""`tracker check` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import time

import pytest

from conftest import FIXTURES, Page, policy_html, run_cli, store_of, write_config
from tracker.fetch import decode_body

POLICY_V1 = policy_html("30 days")
POLICY_V2 = policy_html("90 days")


def one_policy(tmp_path, site, path="/privacy", **extra):
    return write_config(tmp_path, [{"name": "acme", "urls": [site.url(path)], **extra}])


def test_unchanged_page_is_one_version_with_two_captures(tmp_path, site, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = backend.place(one_policy(tmp_path, site))

    first = run_cli(config, "check")
    second = run_cli(config, "check")

    assert first.exit_code == 0 and "acme new version 1" in first.out
    assert second.exit_code == 0 and "acme unchanged (version 1)" in second.out
    store = store_of(config)
    captures = store.captures.timeline("acme")
    assert len(captures) == 2
    assert [c.sha256 for c in captures] == [hashlib.sha256(POLICY_V1).hexdigest()] * 2
    assert store.captures.body(captures[0].sha256) == POLICY_V1
    assert len(store.history.versions("acme")) == 1


def test_changed_page_is_a_new_version_and_a_change_with_its_window(tmp_path, site, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = backend.place(one_policy(tmp_path, site))
    run_cli(config, "check")
    site.pages["/privacy"] = Page(POLICY_V2)

    result = run_cli(config, "check")

    assert result.exit_code == 0 and "acme new version 2" in result.out
    store = store_of(config)
    captures = store.captures.timeline("acme")
    (change,) = store.history.changes("acme")
    assert (change.from_version, change.to_version) == (1, 2)
    assert (change.window_start, change.window_end) == (captures[0].captured_at, captures[1].captured_at)
    assert store.captures.body(store.history.versions("acme")[1].sha256) == POLICY_V2


def test_a_return_to_an_earlier_text_is_reported_as_such(tmp_path, site, backend):
    config = backend.place(one_policy(tmp_path, site))
    for body in (POLICY_V1, POLICY_V2, POLICY_V1):
        site.pages["/privacy"] = Page(body)
        result = run_cli(config, "check")
    assert "changed back to version 1" in result.out
    changes = store_of(config).history.changes("acme")
    assert [(c.from_version, c.to_version, c.reverts_to) for c in changes] == [(1, 2, None), (2, 1, 1)]


@pytest.mark.parametrize("status", [404, 500])
def test_error_status_is_reported_stored_and_never_a_version(tmp_path, site, status, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    site.pages["/broken"] = Page(b"<html><body>Oops</body></html>", status=status)
    config = backend.place(write_config(tmp_path, [
        {"name": "broken", "urls": [site.url("/broken")]},
        {"name": "acme", "urls": [site.url("/privacy")]},
    ]))

    result = run_cli(config, "check")

    assert result.exit_code == 1
    assert f"broken error: {site.url('/broken')}: HTTP {status}" in result.err
    assert "acme new version 1" in result.out  # a failing policy never stops the others
    store = store_of(config)
    (capture,) = store.captures.timeline("broken")
    assert capture.status == status
    assert store.history.versions("broken") == []
    assert store.history.version_of(capture.id) == (None, f"HTTP {status}")
    assert store.runs.status("broken")["last_error"]["message"].endswith(f"HTTP {status}")


def test_an_error_after_a_good_version_loses_nothing(tmp_path, site, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = backend.place(one_policy(tmp_path, site))
    run_cli(config, "check")
    site.pages["/privacy"] = Page(b"busy", status=503)
    run_cli(config, "check")
    site.pages["/privacy"] = Page(POLICY_V1)

    result = run_cli(config, "check")

    assert "unchanged (version 1)" in result.out
    store = store_of(config)
    assert [c.status for c in store.captures.timeline("acme")] == [200, 503, 200]
    assert len(store.history.versions("acme")) == 1 and store.history.changes("acme") == []


def test_timeout_is_a_one_line_error_and_stores_nothing(tmp_path, site):
    site.pages["/slow"] = Page(POLICY_V1, delay=3)
    config = write_config(tmp_path, [{"name": "slow", "urls": [site.url("/slow")]}],
                          extra="[fetch]\ntimeout_s = 0.5\n")
    started = time.monotonic()

    result = run_cli(config, "check")

    assert time.monotonic() - started < 2.5
    assert result.exit_code == 1
    assert result.err.strip() == f"slow error: {site.url('/slow')}: timed out after 0.5s"
    assert store_of(config).captures.timeline("slow") == []


def test_a_body_that_trickles_in_forever_is_cut_off(tmp_path, site):
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        try:
            for _ in range(40):
                handler.wfile.write(b"<p>x</p>")
                handler.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True

    site.pages["/trickle"] = Page(handler=trickle)
    config = write_config(tmp_path, [{"name": "t", "urls": [site.url("/trickle")]}],
                          extra="[fetch]\ntimeout_s = 0.8\n")
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert "took too long" in result.err or "timed out" in result.err


def test_redirect_chain_is_followed_and_recorded(tmp_path, site):
    site.pages["/old"] = Page(status=301, headers={"Location": "/middle"})
    site.pages["/middle"] = Page(status=302, headers={"Location": site.url("/trust")})
    site.pages["/trust"] = Page(POLICY_V1)
    config = one_policy(tmp_path, site, path="/old")

    result = run_cli(config, "check")

    assert result.exit_code == 0, result.stderr
    (capture,) = store_of(config).captures.timeline("acme")
    assert capture.url == site.url("/old")
    assert capture.final_url == site.url("/trust")
    assert [(r["status"], r["location"]) for r in capture.redirects] == [
        (301, site.url("/middle")), (302, site.url("/trust"))]
    assert "redirected" in capture.flags


def test_redirect_loop_is_an_error(tmp_path, site):
    site.pages["/loop"] = Page(status=302, headers={"Location": "/loop"})
    config = one_policy(tmp_path, site, path="/loop")
    result = run_cli(config, "check")
    assert result.exit_code == 1 and "more than 10 redirects" in result.err


def test_conditional_get_uses_etag_and_a_304_counts_as_unchanged(tmp_path, site, backend):
    def etag_page(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_response(304)
            handler.send_header("ETag", '"v1"')
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("ETag", '"v1"')
        handler.send_header("Content-Length", str(len(POLICY_V1)))
        handler.end_headers()
        handler.wfile.write(POLICY_V1)

    site.pages["/privacy"] = Page(handler=etag_page)
    config = backend.place(one_policy(tmp_path, site))
    run_cli(config, "check")

    result = run_cli(config, "check")

    assert result.exit_code == 0 and "unchanged (version 1)" in result.out
    assert site.requests[-1][1].get("if-none-match") == '"v1"'
    first, second = store_of(config).captures.timeline("acme")
    assert second.status == 304 and "not-modified" in second.flags
    assert second.sha256 == first.sha256
    assert store_of(config).history.version_of(second.id) == (1, None)


def test_last_modified_is_sent_back_as_if_modified_since(tmp_path, site):
    stamp = "Wed, 01 Oct 2025 10:00:00 GMT"
    site.pages["/privacy"] = Page(POLICY_V1, headers={"Content-Type": "text/html", "Last-Modified": stamp})
    config = one_policy(tmp_path, site)
    run_cli(config, "check")
    run_cli(config, "check")
    assert site.requests[0][1].get("if-modified-since") is None
    assert site.requests[1][1].get("if-modified-since") == stamp


def test_page_over_max_bytes_is_refused(tmp_path, site):
    site.pages["/huge"] = Page(b"<html>" + b"a" * 200_000)
    config = write_config(tmp_path, [{"name": "huge", "urls": [site.url("/huge")]}],
                          extra="[fetch]\nmax_bytes = 100000\n")
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert f"huge error: {site.url('/huge')}: page is 200,006 bytes, over max_bytes (100,000)" in result.err
    assert store_of(config).captures.timeline("huge") == []


def test_page_over_max_bytes_without_content_length_is_refused(tmp_path, site):
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for _ in range(30):
            handler.wfile.write(b"b" * 10_000)
        handler.close_connection = True

    site.pages["/huge"] = Page(handler=chunked)
    config = write_config(tmp_path, [{"name": "huge", "urls": [site.url("/huge")]}],
                          extra="[fetch]\nmax_bytes = 100000\n")
    result = run_cli(config, "check")
    assert result.exit_code == 1 and "over max_bytes (100,000 bytes)" in result.err


def test_gzip_bomb_is_refused_without_inflating_it(tmp_path, site):
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # ~200 KB on the wire
    assert len(bomb) < 300_000
    site.pages["/bomb"] = Page(bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    config = write_config(tmp_path, [{"name": "bomb", "urls": [site.url("/bomb")]}],
                          extra="[fetch]\nmax_bytes = 1000000\n")
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert "over max_bytes (1,000,000 bytes) once decompressed" in result.err
    assert store_of(config).captures.timeline("bomb") == []


def test_gzip_page_is_stored_decompressed(tmp_path, site):
    site.pages["/privacy"] = Page(gzip.compress(POLICY_V1),
                                  headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    config = one_policy(tmp_path, site)
    assert run_cli(config, "check").exit_code == 0
    store = store_of(config)
    assert store.captures.body(store.captures.timeline("acme")[0].sha256) == POLICY_V1


@pytest.mark.parametrize("declared_in", ["header", "meta"])
def test_non_utf8_charset_is_detected(tmp_path, site, declared_in):
    page = policy_html(extra="<p>Données personnelles - société</p>").decode()
    if declared_in == "header":
        body = page.replace('<meta charset="utf-8">', "").encode("windows-1252")
        headers = {"Content-Type": "text/html; charset=windows-1252"}
    else:
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        body = page.replace('<meta charset="utf-8">', meta).encode("iso-8859-1")
        headers = {"Content-Type": "text/html"}
    site.pages["/privacy"] = Page(body, headers=headers)
    config = one_policy(tmp_path, site)

    assert run_cli(config, "check").exit_code == 0

    store = store_of(config)
    (capture,) = store.captures.timeline("acme")
    assert capture.charset == ("cp1252" if declared_in == "header" else "iso8859-1")
    assert "Données personnelles" in decode_body(store.captures.body(capture.sha256), capture.charset)
    assert store.captures.body(capture.sha256) == body  # kept untouched


def test_pdf_is_stored_and_flagged(tmp_path, site, backend):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    site.pages["/privacy.pdf"] = Page(pdf, headers={"Content-Type": "application/pdf"})
    config = backend.place(one_policy(tmp_path, site, path="/privacy.pdf"))

    result = run_cli(config, "check")

    assert result.exit_code == 0 and "new version 1 (pdf)" in result.out
    (capture,) = store_of(config).captures.timeline("acme")
    assert capture.format == "pdf" and "not-html" in capture.flags
    assert store_of(config).captures.body(capture.sha256) == pdf


def test_user_agent_names_the_tool_and_the_contact(tmp_path, site):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}],
                          extra='[fetch]\ncontact = "mailto:ops@example.org"\n')
    run_cli(config, "check")
    agent = site.requests[0][1]["user-agent"]
    assert agent.startswith("policy-tracker/") and "mailto:ops@example.org" in agent


def test_the_language_asked_for_is_the_policys_pinned_one_else_the_configured_one(tmp_path, site):
    site.pages["/a"] = Page(POLICY_V1)
    site.pages["/b"] = Page(POLICY_V1)
    config = write_config(tmp_path, [{"name": "a", "urls": [site.url("/a")], "language": "de"},
                                     {"name": "b", "urls": [site.url("/b")]}],
                          extra='[fetch]\naccept_language = "fr-CH, fr;q=0.9"\n')
    run_cli(config, "check")
    asked = {path: headers.get("accept-language") for path, headers in site.requests}
    assert asked == {"/a": "de", "/b": "fr-CH, fr;q=0.9"}


def test_only_the_named_policies_are_checked_and_unknown_names_are_refused(tmp_path, site):
    site.pages["/a"] = Page(POLICY_V1)
    site.pages["/b"] = Page(POLICY_V2)
    config = write_config(tmp_path, [{"name": "a", "urls": [site.url("/a")]},
                                     {"name": "b", "urls": [site.url("/b")]}])
    result = run_cli(config, "check", "b")
    assert [path for path, _ in site.requests] == ["/b"]
    assert result.out.startswith("b new version 1")

    result = run_cli(config, "check", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {config}: no policy named 'nope' (known: a, b)"


def test_the_current_url_is_the_last_of_urls_and_live_false_is_skipped(tmp_path, site):
    site.pages["/new"] = Page(POLICY_V1)
    config = write_config(tmp_path, [
        {"name": "moved", "urls": [site.url("/old"), site.url("/new")]},
        {"name": "archived-only", "urls": [site.url("/gone")], "live": False},
    ])
    result = run_cli(config, "check")
    assert result.exit_code == 0
    assert [path for path, _ in site.requests] == ["/new"]
    assert "archived-only skipped (live = false)" in result.out
    status = run_cli(config, "status").out
    assert "\narchived-only\n last check not checked (live = false)\n" in status
    assert "\nmoved\n last check " in status and "not checked" not in status.split("archived-only")[0]


def test_every_check_is_recorded_as_a_run(tmp_path, site, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = backend.place(write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]},
                                                   {"name": "gone", "urls": [site.url("/gone")]}]))
    run_cli(config, "check")
    (run,) = store_of(config).runs.recent()
    assert run["command"] == "check" and run["outcome"] == "failed"
    assert run["counts"] == {"new-version": 1, "error": 1}
    assert run["ended_at"] >= run["started_at"]


def test_status_shows_each_policy(tmp_path, site, backend):
    site.pages["/privacy"] = Page(POLICY_V1)
    config = backend.place(write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]},
                                                   {"name": "gone", "urls": [site.url("/gone")]}]))
    run_cli(config, "check")
    site.pages["/privacy"] = Page(POLICY_V2)
    run_cli(config, "check", "acme")

    import json
    data = json.loads(run_cli(config, "status", "--json").stdout)
    acme, gone = data["policies"]
    assert (acme["captures"], acme["versions"]) == (2, 2)
    assert acme["last_check"]["outcome"] == "new-version"
    assert acme["last_change"]["to_version"] == 2
    assert acme["last_error"] is None
    assert gone["last_error"]["message"] == f"{site.url('/gone')}: HTTP 404"

    text = run_cli(config, "status").out
    assert "\nacme\n" in text and "versions 2" in text and "HTTP 404" in text


def test_a_real_policy_page_round_trips_and_compresses(tmp_path, site):
    page = (FIXTURES / "match-privacy-20220421.html").read_bytes()
    site.pages["/privacy"] = Page(page)
    config = one_policy(tmp_path, site)
    run_cli(config, "check")
    store = store_of(config)
    (capture,) = store.captures.timeline("acme")
    assert store.captures.body(capture.sha256) == page
    stored = store.db.execute("SELECT length(data), size FROM bodies").fetchone()
    assert stored[1] / stored[0] > 3  # zstd level 10: 3.2x on this 34 KB page, more on larger ones
