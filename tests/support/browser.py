"""Headless Chromium for the page's tests: Debian's chromium and chromedriver (`make setup` installs them),
a fixed window, the background networking this closed machine refuses turned off, and any extra flags a
test needs (a fake microphone, a download folder)."""

from __future__ import annotations

import shutil

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.components import missing


def launch_chromium(*arguments: str, prefs: dict[str, object] | None = None) -> WebDriver:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        missing("Chromium and chromedriver are not installed (`make setup` installs them: scripts/install_browser.sh)")
    options = Options()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1280,1000",
        *arguments,
    ):
        options.add_argument(argument)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service(driver_path), options=options)
