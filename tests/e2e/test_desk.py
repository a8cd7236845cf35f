"""The desk in a real window: first-run setup with the simulator's certificate, paid orders arriving (by
notification and by status sync), "query WeChat now", closing an unpaid order, lock and unlock.
The tests run in file order on one app session; each leaves the app where the next one starts."""

import os
import time

from conftest import OWNER_PASSWORD
from selenium.webdriver.common.keys import Keys

RUN = f"E2E{int(time.time())}"
PAID_A, PAID_B, SYNCED_C, UNPAID_D = (f"{RUN}A", f"{RUN}B", f"{RUN}C", f"{RUN}D")


def test_a_setup_wizard_with_the_simulators_p12(desk):
    desk.wait_testid("setup-page", 60)
    desk.shot("setup-start")
    # The owner's way, field by field: merchant, API key, the .p12 that `wxpay-sim cert issue` made.
    desk.wait_testid("setup-current-merchant")
    desk.type("setup-appid", os.environ["E2E_APPID"])
    desk.type("setup-mchid", os.environ["E2E_MCH_ID"])
    desk.click("setup-signtype-MD5")
    desk.shot("setup-merchant")
    desk.click("setup-next")
    desk.wait_testid("setup-current-apiKey")
    desk.type("setup-apikey", os.environ["E2E_API_KEY"])
    desk.click("setup-next")
    desk.wait_testid("setup-current-certificate")
    desk.click("setup-cert-kind-p12")
    desk.type("setup-p12-path", os.environ["E2E_P12"])
    desk.click("setup-cert-inspect")
    info = desk.wait_testid("setup-cert-info", 20)
    desk.wait(lambda: info.get_attribute("data-usable") == "true", 10)
    assert os.environ["E2E_MCH_ID"] in desk.find("setup-cert-subject").text
    assert not desk.present("setup-cert-error")
    desk.shot("setup-certificate-inspected")
    desk.click("setup-next")
    desk.wait_testid("setup-current-connection")
    desk.shot("setup-connection-step")

    # Typed by hand, the connection would go to the real WeChat (offline here). The sandbox button points the
    # wizard at the running simulator: same merchant, key and a certificate of the simulator's CA.
    desk.click("setup-sandbox")
    desk.wait_testid("setup-sandbox-banner", 30)
    desk.wait_testid("setup-current-connection", 30)
    desk.click("setup-step-merchant")
    desk.wait_testid("setup-current-merchant")
    assert desk.input_of("setup-appid").get_attribute("value") == os.environ["E2E_APPID"]
    assert desk.input_of("setup-mchid").get_attribute("value") == os.environ["E2E_MCH_ID"]
    for step in ("apiKey", "certificate", "connection"):
        desk.click("setup-next")
        desk.wait_testid(f"setup-current-{step}")
    desk.shot("setup-sandbox-filled")

    desk.click("setup-test-connection")
    result = desk.wait_testid("setup-test-result", 30)
    desk.wait(lambda: result.get_attribute("data-ok") in ("true", "false"), 30)
    desk.shot("setup-connection-tested")
    assert result.get_attribute("data-ok") == "true", result.text

    desk.click("setup-next")
    desk.wait_testid("setup-current-ledger")
    desk.click("setup-next")
    desk.wait_testid("setup-current-owner")
    desk.type("setup-owner-name", "测试店主")
    desk.type("setup-owner-password", OWNER_PASSWORD)
    desk.type("setup-owner-password2", OWNER_PASSWORD)
    desk.shot("setup-owner")
    desk.click("setup-finish")
    time.sleep(0.5)
    if desk.present("confirm-ok"):
        desk.click("confirm-ok")
    desk.wait_testid("dashboard-page", 60)
    desk.wait(lambda: os.environ["E2E_MCH_ID"] in (desk.find("header-merchant").get_attribute("textContent") or ""), 10)
    desk.wait_testid("header-sandbox")
    desk.shot("setup-done-dashboard")


def _reload_orders(desk):
    if desk.present("orders-reload"):
        desk.click("orders-reload")
    else:
        desk.click("nav-dashboard")
        desk.wait_testid("dashboard-page")
        desk.click("nav-orders")
        desk.wait_testid("orders-page")


def _state(desk, out_trade_no):
    rows = desk.all(f"orders-row-{out_trade_no}")
    return rows[0].get_attribute("data-state") if rows else None


def _close_drawer(desk):
    desk.driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
    desk.wait(lambda: not desk.present("order-drawer"), 10)


def test_b_paid_orders_arrive_query_now_and_close(desk):
    # Two orders registered with the receiver and paid: the notifications reach the receiver → ledger.
    for no, fee in ((PAID_A, 2800), (PAID_B, 3500)):
        desk.new_order(no, fee)
        desk.sim_merchant("POST", f"/orders/{no}/pay", {"bank_type": "CMB_DEBIT"})
    # One paid with its notifications lost: only the app's status sync can learn it was paid.
    desk.new_order(SYNCED_C, 4200, register=False)
    desk.sim_merchant("PUT", f"/orders/{SYNCED_C}/faults", {"notify_lost": True})
    desk.sim_merchant("POST", f"/orders/{SYNCED_C}/pay", {})
    desk.register(SYNCED_C, 4200)
    # One left unpaid, to close.
    desk.new_order(UNPAID_D, 1800)

    desk.click("nav-orders")
    desk.wait_testid("orders-page")
    want = {PAID_A: "SUCCESS", PAID_B: "SUCCESS", SYNCED_C: "SUCCESS", UNPAID_D: "NOTPAY"}
    deadline = time.monotonic() + 120
    while True:
        got = {no: _state(desk, no) for no in want}
        if got == want:
            break
        if time.monotonic() > deadline:
            desk.shot("orders-missing")
            raise AssertionError(f"orders table: want {want}, got {got}")
        time.sleep(2)
        _reload_orders(desk)
    assert desk.all(f"orders-row-{PAID_A}")[0].get_attribute("data-total-fen") == "2800"
    desk.shot("orders-arrived")

    # The order the notification never reached: its timeline shows the query that found it paid.
    desk.click(f"orders-row-{SYNCED_C}")
    drawer = desk.wait_testid("order-drawer")
    assert drawer.get_attribute("data-out-trade-no") == SYNCED_C
    desk.wait(lambda: desk.attr("order-state", "data-state") == "SUCCESS", 10)
    sources = {e.get_attribute("data-source") for e in desk.all("order-timeline-source")}
    assert "query" in sources, sources
    desk.shot("order-synced-drawer")
    _close_drawer(desk)

    # "Query WeChat now" on a paid order.
    desk.click(f"orders-row-{PAID_A}")
    desk.wait(lambda: desk.attr("order-drawer", "data-out-trade-no") == PAID_A, 10)
    before = desk.find("order-last-checked").text
    desk.click("order-query-now")
    desk.wait(lambda: desk.find("order-last-checked").text != before, 20)
    assert desk.attr("order-state", "data-state") == "SUCCESS"
    assert not desk.present("order-action-error")
    desk.shot("order-queried-now")
    _close_drawer(desk)

    # Close the unpaid order, with the confirmation.
    desk.click(f"orders-row-{UNPAID_D}")
    desk.wait(lambda: desk.attr("order-drawer", "data-out-trade-no") == UNPAID_D, 10)
    assert desk.attr("order-state", "data-state") == "NOTPAY"
    desk.click("order-close")
    desk.wait_testid("confirm-dialog")
    desk.shot("order-close-confirm")
    desk.click("confirm-ok")
    desk.wait(lambda: desk.attr("order-state", "data-state") == "CLOSED", 30)
    assert not desk.present("order-action-error")
    desk.shot("order-closed")
    at_wechat = desk.sim_merchant("GET", f"/orders/{UNPAID_D}")
    assert "CLOSED" in str(at_wechat), at_wechat
    _close_drawer(desk)


def test_c_lock_and_unlock(desk):
    desk.click("header-lock")
    desk.wait_testid("unlock-page", 20)
    desk.shot("locked")

    desk.type("unlock-password", "not-the-password")
    desk.click("unlock-submit")
    error = desk.wait_testid("unlock-error", 30)
    assert error.get_attribute("data-code") == "wrong_password", error.get_attribute("data-code")
    assert desk.present("unlock-page")
    desk.shot("unlock-wrong-password")

    desk.type("unlock-password", OWNER_PASSWORD)
    desk.click("unlock-submit")
    desk.wait(lambda: not desk.present("unlock-page"), 30)
    desk.wait(lambda: desk.present("orders-page") or desk.present("dashboard-page"), 20)
    desk.shot("unlocked")
