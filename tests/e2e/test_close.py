"""The daily close in a real window: a bill imported from a file shows what the simulator and the ledger disagree
on, an action at the desk settles each difference, and the day's status follows ("import → discrepancy shown →
action → resolved"); importing the same file again changes nothing; the "fetch the bill" button downloads another
day's bill from the simulator and finds it clean.

The days are made at the simulator: its clock is set back to a past Beijing day (two days ago, so its bill is
out whatever the hour: a bill is available from 10:00 the next day), orders are paid there, and the clock is put
back to real time. Day D: one order registered with the receiver and paid (its notification puts it in the
ledger: it matches), and two orders created and paid at the simulator only, their notification going to a port
where nothing listens — "paid at WeChat but unknown here" twice. Day E (the day before): one matching order, for
the fetch. The bill file is what the simulator's `/pay/downloadbill` answers for D (ALL, plain text), saved to a
temporary file whose path is typed into the import field.

conftest.py runs this file after the others (it moves the simulator's clock for a moment and expects the app set
up), or alone with `-k close`."""

import datetime
import hashlib
import os
import shutil
import tempfile
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest
from conftest import env
from selenium.common.exceptions import ElementClickInterceptedException

RUN = f"CL{int(time.time())}"
MATCHED, UNKNOWN_RECORD, UNKNOWN_EXPLAIN, FETCHED = (f"{RUN}M", f"{RUN}U", f"{RUN}X", f"{RUN}F")
FEES = {MATCHED: 3200, UNKNOWN_RECORD: 1850, UNKNOWN_EXPLAIN: 990, FETCHED: 4100}
# Nothing listens on the discard port: the simulator's payment notifications for the "unknown" orders are lost.
NOWHERE = "http://127.0.0.1:9/wxpay/notify/pay"
EXPLAIN_NOTE = "顾客在另一台收银机付款，已核对小票"


# ---- the simulator's side ---------------------------------------------------------------------------------------


def _sim_day(desk, day, at="12:00:00"):
    """Sets the simulator's clock to `day` (YYYY-MM-DD) at `at`, Beijing time."""
    now = desk.sim("POST", "/admin/clock", {"set": f"{day} {at}"})
    assert now["now_beijing"].startswith(day), now


def _pay_unknown(desk, out_trade_no):
    """An order created and paid at the simulator only: never registered, its notification lost."""
    desk.sim_merchant(
        "POST",
        "/orders",
        {
            "out_trade_no": out_trade_no,
            "total_fee": FEES[out_trade_no],
            "body": "e2e 柜台外的单",
            "notify_url": NOWHERE,
            "sign_type": "MD5",
            "pay": {"bank_type": "CFT"},
        },
    )


def _download_bill(desk, day, folder):
    """The ALL bill of `day` as the simulator's /pay/downloadbill answers it (plain text), saved to a file; its path."""
    params = {
        "appid": env("E2E_APPID"),
        "mch_id": env("E2E_MCH_ID"),
        "nonce_str": uuid.uuid4().hex,
        "bill_date": day.replace("-", ""),
        "bill_type": "ALL",
    }
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + "&key=" + env("E2E_API_KEY")
    params["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    body = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in params.items()) + "</xml>"
    req = urllib.request.Request(env("E2E_SIM_URL") + "/pay/downloadbill", data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30, context=desk.ssl) as r:
        data = r.read()
    assert not data.lstrip().startswith(b"<xml>"), f"downloadbill {day}: {data[:300]!r}"
    path = os.path.join(folder, f"All-{day}.csv")
    with open(path, "wb") as f:
        f.write(data)
    for no in (MATCHED, UNKNOWN_RECORD, UNKNOWN_EXPLAIN):
        assert no.encode() in data, f"{no} not in the bill of {day}"
    return path


@pytest.fixture(scope="module")
def days(desk):
    """Plants days D and E at the simulator (and the ledger), writes D's bill file; the clock is real time after."""
    desk.ready_as_owner()
    real_today = datetime.date.fromisoformat(desk.sim("GET", "/admin/clock")["now_beijing"][:10])
    day = (real_today - datetime.timedelta(days=2)).isoformat()
    day_before = (real_today - datetime.timedelta(days=3)).isoformat()
    folder = tempfile.mkdtemp(prefix="paydesk-e2e-bills-")
    try:
        _sim_day(desk, day_before)
        desk.paid_order(FETCHED, FEES[FETCHED])
        _sim_day(desk, day)
        desk.paid_order(MATCHED, FEES[MATCHED])
        _pay_unknown(desk, UNKNOWN_RECORD)
        _pay_unknown(desk, UNKNOWN_EXPLAIN)
    finally:
        desk.sim("POST", "/admin/clock", {"reset": True})
    yield {"day": day, "day_before": day_before, "bill": _download_bill(desk, day, folder)}
    shutil.rmtree(folder, ignore_errors=True)


# ---- the window -------------------------------------------------------------------------------------------------


def _open_day(desk, day):
    """The day view of `day`, reached from the calendar (the month before when the day is there)."""
    desk.ready_as_owner()
    desk.click("nav-close")
    desk.wait_testid("close-page", 30)
    desk.wait(lambda: desk.attr("close-calendar", "data-loaded") == "true", 30)
    if not desk.present(f"close-day-{day}"):
        _click_through(desk, "close-month-prev")
    _click_through(desk, f"close-day-{day}")
    desk.wait(lambda: desk.attr_or_none("close-day-page", "data-day") == day, 30)
    desk.wait_testid("close-day-status", 30)


def _click_through(desk, testid):
    """Clicks once nothing lies over the element (the calendar's loading mask comes and goes as it refreshes)."""

    def clicked():
        try:
            desk.click(testid, 30)
            return True
        except ElementClickInterceptedException:
            return False

    clicked.__doc__ = f"[data-testid={testid}] clicked"
    desk.wait(clicked, 30, interval=0.5)


def _status(desk):
    return desk.attr_or_none("close-day-status", "data-status"), desk.attr_or_none("close-day-status", "data-open")


def _discrepancies(desk):
    """{out_trade_no: (id, kind, status)} of the rows shown."""
    rows = desk.driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid^=\"discrepancy-row-\"]')).map(e => ["
        " e.getAttribute('data-testid').slice('discrepancy-row-'.length), e.getAttribute('data-out-trade-no'),"
        " e.getAttribute('data-kind'), e.getAttribute('data-status')])"
    )
    return {no: (int(i), kind, status) for i, no, kind, status in rows}


def _import(desk, path, outcome):
    """Types the path, imports, and waits for the import's answer to be `outcome` (each import replaces the last
    one's answer on screen); returns the day it names."""
    desk.type("close-import-path", path)
    desk.click("close-import-submit")

    def answered():
        errors = [e for e in desk.all("close-import-error") if e.is_displayed()]
        assert not errors, errors[0].get_attribute("textContent")
        for e in desk.all("close-import-result"):
            if e.get_attribute("data-path") == path and e.get_attribute("data-outcome") == outcome:
                return e.get_attribute("data-day")
        return None

    answered.__doc__ = f"import of {path}: {outcome}"
    return desk.wait(answered, 60)


def _show(desk, testid):
    desk.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", desk.wait_testid(testid))


def _count(desk, side, field):
    return int(desk.attr(f"close-{side}-{field}", "data-count" if field.endswith("count") else "data-fen"))


# ---- scenarios --------------------------------------------------------------------------------------------------


def test_a_import_shows_the_difference_and_actions_settle_it(desk, days):
    day, bill = days["day"], days["bill"]
    _open_day(desk, day)
    # Before any bill: the ledger's side only (the matched order), no WeChat figures.
    assert desk.present("close-totals-no-bill") or desk.attr("close-wechat-payments-count", "data-value") == ""
    desk.wait(lambda: _count(desk, "ledger", "payments-fen") == FEES[MATCHED], 30)
    desk.shot("close-day-before-import")

    # Import the file the simulator's downloadbill gave.
    assert _import(desk, bill, "imported") == day
    desk.wait(lambda: desk.attr_or_none("close-bill", "data-source") == "import", 30)
    assert desk.attr("close-bill", "data-rows") == "3"
    assert desk.attr("close-summary-check", "data-ok") == "true"
    sha = desk.attr("close-bill", "data-sha256")

    # Two payments WeChat has and the ledger does not; the registered one matched.
    found = desk.wait(lambda: (lambda d: d if len(d) == 2 else None)(_discrepancies(desk)), 30)
    assert set(found) == {UNKNOWN_RECORD, UNKNOWN_EXPLAIN}, found
    for no, (_, kind, status) in found.items():
        assert (kind, status) == ("missing_in_ledger", "open"), (no, kind, status)
    record_id, explain_id = found[UNKNOWN_RECORD][0], found[UNKNOWN_EXPLAIN][0]
    assert desk.attr(f"discrepancy-wechat-{record_id}", "data-fen") == str(FEES[UNKNOWN_RECORD])
    assert desk.attr("close-run", "data-matched") == "1"
    assert _status(desk) == ("open", "2")
    assert desk.attr("close-discrepancy-count", "data-open") == "2"
    # Both sides' totals, and their difference.
    assert (_count(desk, "ledger", "payments-count"), _count(desk, "ledger", "payments-fen")) == (1, FEES[MATCHED])
    assert (_count(desk, "wechat", "payments-count"), _count(desk, "wechat", "payments-fen")) == (
        3,
        FEES[MATCHED] + FEES[UNKNOWN_RECORD] + FEES[UNKNOWN_EXPLAIN],
    )
    assert desk.attr("close-diff-payments-fen", "data-same") == "false"
    assert desk.attr("close-totals", "data-same") == "false"
    desk.shot("close-day-imported-discrepancies")
    _show(desk, f"discrepancy-row-{record_id}")
    desk.shot("close-day-discrepancy-rows")

    # "Record the order from the bill": confirmed, then the row is resolved and the ledger has the payment.
    desk.click(f"discrepancy-record_from_bill-{record_id}")
    desk.wait_testid("confirm-ok", 20)
    desk.shot("close-record-from-bill-confirm")
    desk.click("confirm-ok")
    desk.wait(lambda: _discrepancies(desk).get(UNKNOWN_RECORD, (0, 0, 0))[2] == "resolved", 60)
    result = desk.wait_testid("close-action-result", 30)
    assert result.get_attribute("data-id") == str(record_id)
    assert result.get_attribute("data-action") == "record_from_bill"
    assert result.get_attribute("data-status") == "resolved"
    assert not desk.all(f"discrepancy-error-{record_id}")
    assert not desk.all(f"discrepancy-record_from_bill-{record_id}")  # resolved rows offer no action
    desk.wait(lambda: _status(desk) == ("open", "1"), 30)
    desk.wait(lambda: _count(desk, "ledger", "payments-fen") == FEES[MATCHED] + FEES[UNKNOWN_RECORD], 30)
    assert desk.ledger_order(UNKNOWN_RECORD).get("trade_state") == "SUCCESS"
    desk.shot("close-recorded-from-bill")

    # "Mark explained": a blank note sends nothing; with a note the row is explained and the day clean.
    desk.click(f"discrepancy-explain-{explain_id}")
    desk.wait(lambda: desk.attr_or_none("explain-dialog", "data-discrepancy-id") == str(explain_id), 20)
    desk.click("explain-confirm")
    desk.wait(lambda: desk.attr_or_none("explain-note-field", "data-problem") == "close.explain.noteRequired", 10)
    assert _discrepancies(desk)[UNKNOWN_EXPLAIN][2] == "open"
    desk.type("explain-note", EXPLAIN_NOTE)
    desk.shot("close-explain-dialog")
    desk.click("explain-confirm")
    desk.wait(lambda: not desk.present("explain-dialog"), 30)
    desk.wait(lambda: _discrepancies(desk).get(UNKNOWN_EXPLAIN, (0, 0, 0))[2] == "explained", 60)
    assert EXPLAIN_NOTE in desk.text(f"discrepancy-resolution-{explain_id}")
    desk.wait(lambda: _status(desk) == ("clean", "0"), 30)
    assert desk.attr("close-discrepancy-count", "data-open") == "0"
    desk.shot("close-day-clean")

    # The same file again: already imported, nothing changes.
    assert _import(desk, bill, "already_imported") == day
    assert desk.attr("close-bill", "data-sha256") == sha
    assert _status(desk) == ("clean", "0")
    assert {no: s for no, (_, _, s) in _discrepancies(desk).items()} == {
        UNKNOWN_RECORD: "resolved",
        UNKNOWN_EXPLAIN: "explained",
    }
    desk.shot("close-reimport-already-imported")

    # The calendar says the same.
    desk.click("close-back")
    desk.wait_testid("close-page", 30)
    desk.wait(lambda: desk.attr_or_none(f"close-day-{day}", "data-status") == "clean", 30)
    assert desk.attr(f"close-day-{day}", "data-open") == "0"
    desk.shot("close-calendar-clean")


def test_b_fetch_the_bill_of_another_day(desk, days):
    day = days["day_before"]
    _open_day(desk, day)
    assert _status(desk)[0] == "not_reconciled", _status(desk)
    desk.click("close-fetch")
    result = desk.wait_testid("close-fetch-result", 60)
    desk.wait(lambda: result.get_attribute("data-outcome") in ("imported", "already_imported", "not_yet", "no_bill"), 60)
    assert result.get_attribute("data-outcome") == "imported", result.get_attribute("textContent")
    assert not desk.present("close-fetch-error")
    desk.wait(lambda: desk.attr_or_none("close-bill", "data-source") == "download", 30)
    desk.wait(lambda: _status(desk) == ("clean", "0"), 30)
    assert desk.attr("close-run", "data-matched") == "1"
    assert desk.attr("close-totals", "data-same") == "true"
    assert _count(desk, "wechat", "payments-fen") == FEES[FETCHED]
    desk.wait_testid("close-discrepancies-empty", 10)
    desk.shot("close-fetched-clean")
