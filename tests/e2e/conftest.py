"""Shared fixtures of the real-window suite: one app session (selenium Remote → tauri-driver →
WebKitWebDriver → target/debug/paydesk) for the whole module, helpers to find elements by data-testid,
type into Element Plus inputs, take screenshots, and talk to wxpay-sim's admin API and notify-receiver's
shop API. tests/e2e/run sets the E2E_* variables."""

import json
import os
import ssl
import subprocess
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.file_detector import UselessFileDetector

ENV = os.environ

# The owner's password the suite sets up (test_desk.py's wizard, or `Desk.ready_as_owner` when run alone).
OWNER_PASSWORD = "e2e-owner-password"


def env(name):
    value = ENV.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the suite through tests/e2e/run")
    return value


class Desk:
    """The driven app window plus the two servers beside it."""

    def __init__(self, driver):
        self.driver = driver
        self.artifacts = env("E2E_ARTIFACTS")
        self.shots = 0
        self.ssl = ssl.create_default_context(cafile=env("E2E_SIM_CA"))

    # ---- the window ---------------------------------------------------------------------------------------
    def find(self, testid):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, testid):
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def present(self, testid):
        return any(e.is_displayed() for e in self.all(testid))

    def wait(self, what, timeout=20.0, interval=0.2):
        """Polls `what()` until it returns something truthy; fails with a screenshot after `timeout`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                value = what()
                if value:
                    return value
            except (NoSuchElementException, StaleElementReferenceException, WebDriverException) as e:
                last = e
            time.sleep(interval)
        self.shot("timeout")
        raise AssertionError(f"timed out after {timeout}s waiting for {getattr(what, '__doc__', None) or what}: {last}")

    def wait_testid(self, testid, timeout=20.0):
        def visible():
            for e in self.all(testid):
                if e.is_displayed():
                    return e
            return None

        visible.__doc__ = f"[data-testid={testid}] visible"
        return self.wait(visible, timeout)

    def click(self, testid, timeout=20.0):
        el = self.wait_testid(testid, timeout)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        try:
            el.click()
        except ElementNotInteractableException:
            # Not focusable (a step title, a plain div): a DOM click is what a mouse click does there.
            self.driver.execute_script("arguments[0].click()", el)
        return el

    def input_of(self, testid):
        el = self.wait_testid(testid)
        if el.tag_name.lower() in ("input", "textarea"):
            return el
        return el.find_element(By.CSS_SELECTOR, "input, textarea")

    def type(self, testid, text):
        """Replaces the input's text, key by key, so Vue's v-model sees every change."""
        el = self.input_of(testid)
        el.click()
        el.send_keys(Keys.CONTROL, "a")
        el.send_keys(Keys.BACKSPACE)
        if el.get_attribute("value"):
            el.clear()
        el.send_keys(text)
        self.wait(lambda: el.get_attribute("value") == text, 5)
        return el

    def attr(self, testid, name):
        return self.wait_testid(testid).get_attribute(name)

    def attr_or_none(self, testid, name):
        """The attribute of the first visible [data-testid=…], or None when there is none (no waiting)."""
        for e in self.all(testid):
            if e.is_displayed():
                return e.get_attribute(name)
        return None

    def text(self, testid):
        """The text of the first visible [data-testid=…] (textContent: also what is clipped or in a tooltip cell)."""
        return (self.wait_testid(testid).get_attribute("textContent") or "").strip()

    def enabled(self, testid):
        el = self.wait_testid(testid)
        return el.is_enabled() and el.get_attribute("disabled") is None and "is-disabled" not in (el.get_attribute("class") or "")

    def testids(self, prefix):
        """The data-testid values in the DOM that start with `prefix`, in document order."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('[data-testid^=\"' + arguments[0] + '\"]'))"
            ".map(e => e.getAttribute('data-testid'))",
            prefix,
        )

    def ready_as_owner(self):
        """Brings the app to an unlocked owner screen whatever it shows now: the first-run wizard (the sandbox way,
        as ui/README.md describes it), the unlock screen, or an unlocked page already. Lets a test file run alone
        (`tests/e2e/run -- -k refunds`) as well as after test_desk.py."""
        def screen():
            for page in ("setup-page", "unlock-page", "dashboard-page", "orders-page", "refunds-page",
                         "refunds-list-page", "sync-page", "settings-page", "audit-page", "close-page", "close-day-page"):
                if self.present(page):
                    return page
            return None

        screen.__doc__ = "a known screen"
        page = self.wait(screen, 60)
        if page == "setup-page":
            self.click("setup-sandbox")
            self.wait_testid("setup-sandbox-banner", 30)
            self.wait_testid("setup-current-connection", 30)
            self.click("setup-test-connection")
            result = self.wait_testid("setup-test-result", 30)
            self.wait(lambda: result.get_attribute("data-ok") in ("true", "false"), 30)
            assert result.get_attribute("data-ok") == "true", result.text
            self.click("setup-next")
            self.wait_testid("setup-current-ledger")
            self.click("setup-next")
            self.wait_testid("setup-current-owner")
            self.type("setup-owner-name", "测试店主")
            self.type("setup-owner-password", OWNER_PASSWORD)
            self.type("setup-owner-password2", OWNER_PASSWORD)
            self.click("setup-finish")
            time.sleep(0.5)
            if self.present("confirm-ok"):
                self.click("confirm-ok")
            self.wait_testid("dashboard-page", 60)
        elif page == "unlock-page":
            self.type("unlock-password", OWNER_PASSWORD)
            self.click("unlock-submit")
            self.wait(lambda: not self.present("unlock-page"), 30)
        self.wait_testid("header-lock", 30)

    def shot(self, name):
        """A screenshot of the window after two animation frames (TAURI-ON-LINUX: the frame must be painted)."""
        self.shots += 1
        path = os.path.join(self.artifacts, f"{self.shots:02d}-{name}.png")
        try:
            self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
            )
            if self.driver.save_screenshot(path):
                return path
        except WebDriverException:
            pass
        # Fall back to the whole X display.
        subprocess.run(["/usr/bin/import", "-window", "root", path], check=False)
        return path

    # ---- wxpay-sim's admin API and notify-receiver's shop API ----------------------------------------------
    def _http(self, method, url, body=None, headers=None, context=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=20, context=context) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {url} → {e.code}: {e.read().decode()}") from e
        return json.loads(text) if text else None

    def sim(self, method, path, body=None):
        return self._http(method, env("E2E_SIM_URL") + path, body, context=self.ssl)

    def sim_merchant(self, method, path, body=None):
        return self.sim(method, f"/admin/merchants/{env('E2E_MCH_ID')}{path}", body)

    def shop(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + env("E2E_SHOP_TOKEN")}
        return self._http(method, env("E2E_RECEIVER_URL") + path, body, headers)

    def new_order(self, out_trade_no, total_fee, register=True):
        """An order as a shop backend makes one: unifiedorder at "WeChat", then registered with the receiver."""
        self.sim_merchant(
            "POST",
            "/orders",
            {
                "out_trade_no": out_trade_no,
                "total_fee": total_fee,
                "body": "e2e 拿铁",
                "notify_url": env("E2E_NOTIFY_URL"),
                "sign_type": "MD5",
            },
        )
        if register:
            self.register(out_trade_no, total_fee)

    def register(self, out_trade_no, total_fee):
        self.shop(
            "POST",
            "/api/v1/orders",
            {"out_trade_no": out_trade_no, "amount": total_fee, "sign_type": "MD5", "description": "e2e 拿铁"},
        )

    def ledger_order(self, out_trade_no):
        """The order as the receiver's shop API reports it from the shared ledger."""
        return self.shop("GET", f"/api/v1/orders/{out_trade_no}")

    def paid_order(self, out_trade_no, total_fee):
        """An order registered, paid at the simulator, and paid in the ledger (the payment notification went
        through the receiver) — what the shop API needs before it takes a refund application."""
        self.new_order(out_trade_no, total_fee)
        self.sim_merchant("POST", f"/orders/{out_trade_no}/pay", {"bank_type": "CMB_DEBIT"})

        def paid():
            return self.ledger_order(out_trade_no).get("trade_state") == "SUCCESS"

        paid.__doc__ = f"order {out_trade_no} paid in the ledger"
        self.wait(paid, 60, interval=0.5)

    def apply_refund(self, out_trade_no, amount, reason, request_id=None):
        """A customer's refund application, as the shop backend POSTs it to the receiver; the created row."""
        body = {"out_trade_no": out_trade_no, "amount": amount, "reason": reason}
        if request_id:
            body["request_id"] = request_id
        return self.shop("POST", "/api/v1/refund-applications", body)


@pytest.fixture(scope="session")
def desk():
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": env("E2E_APP")})
    driver = webdriver.Remote(command_executor=env("E2E_WEBDRIVER"), options=options)
    driver.set_script_timeout(10)
    # The app runs on this machine: a typed path is text, not a file to upload (selenium's default for Remote).
    driver.file_detector = UselessFileDetector()
    d = Desk(driver)
    try:
        yield d
    finally:
        try:
            d.shot("last")
        finally:
            driver.quit()


# test_desk.py sets the app up (its first test drives the wizard) and runs first; test_close.py moves the
# simulator's clock for a moment and runs last; the others keep their (alphabetical) order in between.
FILE_ORDER = {"test_desk.py": 0, "test_close.py": 2}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: FILE_ORDER.get(item.path.name, 1))


def pytest_runtest_makereport(item, call):
    """A screenshot named after a failing test."""
    if call.when == "call" and call.excinfo is not None:
        d = item.funcargs.get("desk")
        if d is not None:
            try:
                d.shot(f"FAILED-{item.name}")
            except Exception:  # noqa: BLE001 — best effort
                pass
