"""wxpay-sim checked by an independent client: wechatpy 1.8.18 (PyPI), exactly as a merchant uses it.

Run by tests/sim/wechatpy.rs with the venv python (scripts/wechatpy-venv). Everything comes from
the environment: SIM_BASE_URL (https://127.0.0.1:PORT/), SIM_APPID, SIM_MCH_ID, SIM_KEY,
SIM_CERT / SIM_CERT_KEY (the sim-issued apiclient_cert.pem / apiclient_key.pem), SIM_PAID_ORDER (a
paid order of SIM_PAID_FEE fen), SIM_UNPAID_ORDER, SIM_BILL_DATE (a day with a bill),
REQUESTS_CA_BUNDLE (the simulator's CA). Every XML reply's signature is checked with wechatpy's own
calculate_signature / calculate_signature_hmac. Exits non-zero on the first failure.
"""
import os
import sys
import time

import requests
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

env = os.environ
KEY = env["SIM_KEY"]
checks = []


def check(name, condition, detail=""):
    checks.append(name)
    if not condition:
        print(f"FAIL {name}: {detail}", file=sys.stderr)
        sys.exit(1)
    print(f"ok   {name}")


def signed(name, data, hmac=False):
    """The reply's sign equals what wechatpy computes over the other fields."""
    fields = dict(data)
    sign = fields.pop("sign", None)
    expected = calculate_signature_hmac(fields, KEY) if hmac else calculate_signature(fields, KEY)
    check(f"{name}: signature ({'HMAC-SHA256' if hmac else 'MD5'})", sign == expected, f"{sign} != {expected}")


pay = WeChatPay(appid=env["SIM_APPID"], api_key=KEY, mch_id=env["SIM_MCH_ID"],
                mch_cert=env["SIM_CERT"], mch_key=env["SIM_CERT_KEY"], timeout=10)
pay.API_BASE_URL = env["SIM_BASE_URL"]
paid, fee, unpaid = env["SIM_PAID_ORDER"], int(env["SIM_PAID_FEE"]), env["SIM_UNPAID_ORDER"]

# unifiedorder
created = pay.order.create(trade_type="NATIVE", body="wechatpy 测试", total_fee=1, out_trade_no="WPY-UO-1",
                           notify_url="http://127.0.0.1:9/notify", client_ip="127.0.0.1", product_id="P1")
signed("unifiedorder", created)
check("unifiedorder: prepay_id and code_url", created["prepay_id"].startswith("wx") and created["code_url"].startswith("weixin://"))

# orderquery
q = pay.order.query(out_trade_no=paid)
signed("orderquery", q)
check("orderquery: SUCCESS with transaction_id", q["trade_state"] == "SUCCESS" and len(q["transaction_id"]) == 28, q)
check("orderquery: total_fee", int(q["total_fee"]) == fee, q)
q2 = pay.order.query(transaction_id=q["transaction_id"])
signed("orderquery by transaction_id", q2)

# orderquery signed with HMAC-SHA256
qh = pay.order._post("pay/orderquery", data={"appid": pay.appid, "out_trade_no": paid, "sign_type": "HMAC-SHA256"})
signed("orderquery HMAC", qh, hmac=True)
check("orderquery HMAC: no sign_type echoed", "sign_type" not in qh, qh)

# business errors are signed results (wechatpy raises on them)
try:
    pay.order.query(out_trade_no="WPY-NO-SUCH-ORDER")
    check("orderquery unknown: refused", False, "no exception")
except WeChatPayException as e:
    check("orderquery unknown: ORDERNOTEXIST", e.errcode == "ORDERNOTEXIST", e)
    signed("orderquery unknown", xmltodict.parse(e.response.text)["xml"])

# closeorder
c = pay.order.close(unpaid)
signed("closeorder", c)
check("closeorder: SUCCESS", c["result_code"] == "SUCCESS", c)
try:
    pay.order.close(unpaid)
    check("closeorder again: refused", False, "no exception")
except WeChatPayException as e:
    check("closeorder again: ORDERCLOSED", e.errcode == "ORDERCLOSED", e)

# refund (mutual TLS with the sim-issued certificate)
r = pay.refund.apply(total_fee=fee, refund_fee=100, out_refund_no="WPY-R-1", out_trade_no=paid,
                     notify_url="http://127.0.0.1:9/refund-notify", refund_desc="wechatpy")
signed("refund", r)
check("refund: accepted", r["out_refund_no"] == "WPY-R-1" and int(r["refund_fee"]) == 100, r)
again = pay.refund.apply(total_fee=fee, refund_fee=100, out_refund_no="WPY-R-1", out_trade_no=paid)
check("refund retry: same refund_id", again["refund_id"] == r["refund_id"], again)

# refundquery
rq = pay.refund.query(out_refund_no="WPY-R-1")
signed("refundquery", rq)
check("refundquery: one refund", rq["refund_count"] == "1" and rq["refund_id_0"] == r["refund_id"], rq)
check("refundquery: status", rq["refund_status_0"] in ("PROCESSING", "SUCCESS"), rq)

# downloadbill: the text bill (wechatpy returns non-XML bodies as text)
bill = pay.tools.download_bill(env["SIM_BILL_DATE"])
check("downloadbill: text bill with BOM and titles", isinstance(bill, str) and bill.startswith("\ufeff交易时间,公众账号ID"), repr(bill[:60]))
lines = bill.split("\r\n")
check("downloadbill: CRLF, summary titles", lines[-3].startswith("总交易单数,") and lines[-1] == "", lines[-4:])
check("downloadbill: the paid order is in it", any(f"`{paid}," in line for line in lines[1:-3]), lines)
try:
    pay.tools.download_bill("20000101")
    check("downloadbill old day: refused", False, "no exception")
except WeChatPayException as e:
    check("downloadbill old day: FAIL", e.return_code == "FAIL", e)

# downloadfundflow (HMAC, mutual TLS)
flow = pay.tools.download_fundflow(env["SIM_BILL_DATE"])
check("downloadfundflow: text bill", isinstance(flow, str) and flow.startswith("\ufeff记账时间,"), repr(flow[:40]))

# notifications as WeChat sent them, checked with wechatpy's own parsers
admin = env["SIM_BASE_URL"] + "admin/notifications"
payment = requests.get(admin, params={"out_trade_no": paid, "kind": "payment"}).json()
check("payment notification recorded", len(payment) == 1, payment)
parsed = pay.parse_payment_result(payment[0]["body"])
check("payment notification: wechatpy verifies the MD5 sign", parsed["out_trade_no"] == paid and parsed["total_fee"] == fee, parsed)
deadline = time.time() + 10
refund_notes = []
while time.time() < deadline and not refund_notes:
    refund_notes = requests.get(admin, params={"out_refund_no": "WPY-R-1"}).json()
    time.sleep(0.05)
check("refund notification sent", len(refund_notes) == 1, refund_notes)
decrypted = pay.parse_refund_notify_result(refund_notes[0]["body"])
check("refund notification: wechatpy decrypts req_info",
      decrypted["out_refund_no"] == "WPY-R-1" and decrypted["refund_status"] == "SUCCESS" and decrypted["refund_fee"] == 100,
      decrypted)

print(f"{len(checks)} passed, 0 failed")
