//! `paydesk-cli` as a script sees it: the built binary run against the fixtures (this crate's
//! `tests/fixtures/`, and the bills of `crates/wxpay/tests/fixtures/bills/`), checking stdout JSON,
//! stderr and exit codes (0 ok, 1 failure, 3 bill summary disagrees).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, like tests, may unwrap

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const DOC_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn bill(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wxpay/tests/fixtures/bills").join(name)
}

fn cli(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paydesk-cli"))
        .args(args)
        .env_remove("PAYDESK_API_KEY")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), stderr(out))
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sign_reproduces_the_official_md5_example_from_stdin() {
    let doc = "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info>\
               <body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>";
    let out = cli(&["sign", "--key", DOC_KEY], Some(doc.as_bytes()));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        json!({
            "sign_type": "MD5",
            "string_to_sign": "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***",
            "sign": "9A0A8659F005D6984697E2CA0A9CF3B7",
            "matches": null
        })
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(DOC_KEY), "the key is never printed");
}

#[test]
fn sign_checks_the_sign_a_file_carries() {
    let out = cli(&["sign", "--key", DOC_KEY, path(&fixture("sign-doc-example.xml"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!((v["sign"].as_str(), v["matches"].as_bool()), (Some("9A0A8659F005D6984697E2CA0A9CF3B7"), Some(true)));
}

#[test]
fn sign_mismatch_exits_1_and_still_prints_the_json() {
    let altered = std::fs::read_to_string(fixture("sign-doc-example.xml")).unwrap().replace(">test<", ">test2<");
    let out = cli(&["sign", "--key", DOC_KEY], Some(altered.as_bytes()));
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_json(&out)["matches"], json!(false));
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(DOC_KEY));

    let wrong_key = cli(&["sign", "--key", "wrong", path(&fixture("sign-doc-example.xml"))], None);
    assert_eq!(code(&wrong_key), 1);
}

#[test]
fn sign_type_comes_from_the_flag_then_the_message() {
    let file = path(&fixture("sign-doc-example.xml")).to_string();
    let hmac = cli(&["sign", "--key", DOC_KEY, "--sign-type", "HMAC-SHA256", &file], None);
    let v = stdout_json(&hmac);
    assert_eq!(v["sign_type"], "HMAC-SHA256");
    assert_eq!(v["sign"], "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6");
    assert_eq!(code(&hmac), 1, "the carried MD5 sign does not match an HMAC signature");

    let declared = "<xml><a>1</a><sign_type>HMAC-SHA256</sign_type></xml>";
    let v = stdout_json(&cli(&["sign", "--key", DOC_KEY], Some(declared.as_bytes())));
    assert_eq!(v["sign_type"], "HMAC-SHA256");
    assert_eq!(v["string_to_sign"], "a=1&sign_type=HMAC-SHA256&key=***");

    let unknown = cli(&["sign", "--key", DOC_KEY], Some(b"<xml><a>1</a><sign_type>SHA1</sign_type></xml>"));
    assert_eq!(code(&unknown), 1);
    assert!(stderr(&unknown).contains("--sign-type"), "{}", stderr(&unknown));
}

#[test]
fn sign_of_something_that_is_not_xml_exits_1() {
    let out = cli(&["sign", "--key", DOC_KEY], Some(b"not xml"));
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("not a WeChat Pay XML message"), "{}", stderr(&out));
}

#[test]
fn bill_parse_of_the_real_axios_bill_agrees() {
    let out = cli(&["bill", "parse", path(&bill("all.axios-plugin.csv"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["format"], "modern");
    assert_eq!(v["bill_type"], "ALL");
    assert_eq!(v["gzip"], false);
    assert_eq!(v["columns"].as_array().unwrap().len(), 27);
    assert_eq!(v["columns"][0], "交易时间");
    assert_eq!((v["rows"].as_u64(), v["payments"].as_u64(), v["refunds"].as_u64()), (Some(45), Some(31), Some(14)));
    let totals = json!({
        "total_count": 45,
        "settlement_total_fee": 47,
        "refund_total_fee": 14,
        "coupon_refund_total_fee": 0,
        "fee_total": 8000,
        "order_total_fee": 47,
        "refund_apply_total_fee": 14
    });
    assert_eq!(v["summary"], totals);
    assert_eq!(v["computed"], totals);
    assert_eq!(v["summary_text"]["总交易单数"], "45.0");
    assert_eq!(v["agrees"], true);
    assert_eq!(v["discrepancies"], json!([]));
    assert!(v.get("rows_detail").is_none());
}

#[test]
fn bill_parse_detects_gzip() {
    let plain = stdout_json(&cli(&["bill", "parse", path(&bill("all.axios-plugin.csv"))], None));
    let out = cli(&["bill", "parse", path(&fixture("all.axios-plugin.csv.gz"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut gz = stdout_json(&out);
    assert_eq!(gz["gzip"], true);
    gz["gzip"] = json!(false);
    assert_eq!(gz, plain);
}

#[test]
fn bill_parse_with_rows_adds_every_row() {
    let out = cli(&["bill", "parse", "--rows", path(&bill("all.axios-plugin.csv"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    let rows = v["rows_detail"].as_array().unwrap();
    assert_eq!(rows.len(), 45);
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["kind"], "refund");
    assert_eq!(rows[0]["trade_time"], "2019-02-19 05:01:46");
    assert_eq!((rows[0]["refund_fee"].as_i64(), rows[0]["fee"].as_i64()), (Some(1), Some(0)));
    assert_eq!(rows[0]["fields"]["商户退款单号"], "REF4200000263201902167700963919");
    assert_eq!(rows[2]["kind"], "payment");
    assert_eq!((rows[2]["settlement_total_fee"].as_i64(), rows[2]["fee"].as_i64()), (Some(3), Some(1000)));
    assert_eq!(v["rows"], 45, "the report is the same with rows");
}

#[test]
fn bill_parse_of_a_wxjava_bill_disagrees_with_exit_3() {
    let out = cli(&["bill", "parse", path(&bill("all.wxjava.txt"))], None);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["agrees"], false);
    assert_eq!(v["summary"]["total_count"], 48);
    assert_eq!(v["computed"]["total_count"], 1);
    let fee = v["discrepancies"].as_array().unwrap().iter().find(|d| d["key"] == "fee_total").unwrap().clone();
    assert_eq!((fee["summary"].as_i64(), fee["computed"].as_i64()), (Some(1000), Some(4000)));
    assert!(stderr(&out).contains("total_count: the summary says 48, the rows add up to 1"), "{}", stderr(&out));
}

#[test]
fn bill_parse_of_the_legacy_example_reports_the_legacy_keys() {
    let out = cli(&["bill", "parse", path(&bill("all.legacy-24col.doc2014.wxjava.txt"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["format"], "legacy");
    let legacy = json!({
        "total_count": 2, "refund_total_fee": 0, "coupon_refund_total_fee": 0, "fee_total": 0, "order_total_fee": 2
    });
    assert_eq!(v["summary"], legacy);
    assert_eq!(v["computed"], legacy);
}

#[test]
fn bill_parse_of_a_broken_bill_exits_1_with_line_and_reason() {
    let text = std::fs::read_to_string(bill("all.wxjava.txt")).unwrap();
    let broken = text.replacen(",`0.60%", "", 1);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("paydesk-cli-broken-bill.txt");
    std::fs::write(&file, broken).unwrap();
    let out = cli(&["bill", "parse", path(&file)], None);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty(), "no JSON for a bill that cannot be parsed");
    let err = stderr(&out);
    assert!(err.contains("bill line 2: too few columns: 26 values"), "{err}");

    let cut = text.split("总交易单数").next().unwrap();
    std::fs::write(&file, cut).unwrap();
    let out = cli(&["bill", "parse", "--rows", path(&file)], None);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("bill line 3: the bill ends without its summary"), "{}", stderr(&out));

    let missing = cli(&["bill", "parse", "/nonexistent/bill.csv"], None);
    assert_eq!(code(&missing), 1);
    assert!(stderr(&missing).contains("cannot open /nonexistent/bill.csv"), "{}", stderr(&missing));
}

#[test]
fn notify_decode_verifies_the_fastwego_payment() {
    let out =
        cli(&["notify", "decode", "--key", "KEY", path(&fixture("notify/fastwego-pay-notify.md5-key-KEY.xml"))], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!((v["kind"].as_str(), v["verified"].as_bool()), (Some("pay"), Some(true)));
    assert_eq!(v["fields"]["out_trade_no"], "1409811653");
    assert_eq!(v["fields"]["transaction_id"], "1004400740201409030005092168");
    assert_eq!(v["fields"]["total_fee"], "1");
    assert_eq!(v["fields"]["sign"], "C6F22BE0BD36EE6F7EF408F58A8D7D94");
}

#[test]
fn notify_decode_with_the_wrong_key_exits_1() {
    let out = cli(
        &["notify", "decode", "--key", "WRONG", path(&fixture("notify/fastwego-pay-notify.md5-key-KEY.xml"))],
        None,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_json(&out)["verified"], false);
    assert!(stderr(&out).contains("not authentic"), "{}", stderr(&out));
}

#[test]
fn notify_decode_decrypts_the_wechatpy_refund() {
    let body = std::fs::read(fixture("notify/wechatpy-refund-notify.xml")).unwrap();
    // The key from the environment variable, the body from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_paydesk-cli"))
        .args(["notify", "decode"])
        .env("PAYDESK_API_KEY", "OF4Ne3znh8KqL0V4NqmALQa0uXMYKcEk")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!((v["kind"].as_str(), v["verified"].as_bool()), (Some("refund"), Some(true)));
    let expected = json!({
        "out_refund_no": "1234",
        "out_trade_no": "2020010418301551404339261814",
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
        "refund_fee": "1",
        "refund_id": "50300103182020010413419046597",
        "refund_recv_accout": "招商银行信用卡8915",
        "refund_request_source": "API",
        "refund_status": "SUCCESS",
        "settlement_refund_fee": "1",
        "settlement_total_fee": "1",
        "success_time": "2020-01-04 18:34:24",
        "total_fee": "1",
        "transaction_id": "4200000483202001042069747825"
    });
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&v["fields"][name], value, "{name}");
    }
    assert!(v["fields"].get("req_info").is_none(), "the decrypted fields, not the envelope");
}

#[test]
fn notify_decode_of_the_doc_placeholder_refund_fails_cleanly() {
    let out =
        cli(&["notify", "decode", "--key", "KEY", path(&fixture("notify/doc-placeholder-refund-notify.xml"))], None);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_json(&out)["kind"], "refund");
    assert_eq!(stdout_json(&out)["verified"], false);
    assert!(!stderr(&out).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&cli(&["bill", "parse"], None)), 2);
    assert_eq!(code(&cli(&["sign", "--key", "k", "--sign-type", "SHA1"], Some(b"<xml/>"))), 2);
}
