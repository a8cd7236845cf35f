//! `/pay/downloadbill` and `/pay/downloadfundflow` (§7): availability, the bill or its gzip, and the
//! two ways of saying "no bill" — an unsigned FAIL (`No Bill Exist`, error_code 20002 / `Bill
//! Creating`) for the trade bill, a signed `result_code=FAIL` (`NO_BILL_EXIST` / `BILL_CREATING`) for
//! the fund-flow bill.

use wxpay::ErrCode;

use super::{required, Answer, Request};
use crate::bills::{self, BillKind, Unavailable};
use crate::model::Refusal;
use crate::sim::Sim;

fn gzip_wanted(request: &Request) -> Result<bool, Answer> {
    match request.get("tar_type") {
        None => Ok(false),
        Some("GZIP") => Ok(true),
        Some(_) => Err(Answer::fail("invalid tar_type")),
    }
}

fn bill_answer(text: String, gzip: bool) -> Answer {
    if !gzip {
        return Answer::Bill { bytes: text.into_bytes(), gzip: false };
    }
    match bills::gzip(&text) {
        Ok(bytes) => Answer::Bill { bytes, gzip: true },
        Err(_) => Answer::fail("CompressGZip Error"),
    }
}

pub fn download_bill(sim: &Sim, request: &Request) -> Answer {
    let date = match required(request, "bill_date") {
        Ok(d) => d,
        Err(_) => return Answer::fail("missing parameter"),
    };
    let Some(day) = (date.len() == 8).then(|| wxpay::time::parse_bill_date(date).ok()).flatten() else {
        return Answer::fail("data format error");
    };
    let Some(kind) = BillKind::parse(request.get("bill_type")) else {
        return Answer::fail("invalid bill_type");
    };
    let gzip = match gzip_wanted(request) {
        Ok(g) => g,
        Err(a) => return a,
    };
    match bills::availability(day, sim.clock.now()) {
        Err(Unavailable::Creating) => return Answer::fail("Bill Creating"),
        Err(Unavailable::OutOfRange) | Err(Unavailable::NoBill) => {
            return Answer::Fail { msg: "No Bill Exist".into(), error_code: Some("20002") }
        }
        Ok(()) => {}
    }
    match sim.with_merchant(&request.mch_id, |m| bills::trade_bill(m, day, kind)) {
        Some(Ok(Some(text))) => bill_answer(text, gzip),
        Some(Ok(None)) | None => Answer::Fail { msg: "No Bill Exist".into(), error_code: Some("20002") },
        Some(Err(_)) => Answer::fail("SYSTEMERROR"),
    }
}

pub fn download_fund_flow(sim: &Sim, request: &Request) -> Answer {
    let refuse = |code: ErrCode, des: &str| Answer::Business(Err(Refusal::new(code, des)));
    let (Some(date), Some(account)) = (request.get("bill_date"), request.get("account_type")) else {
        return refuse(ErrCode::ParamError, "缺少参数bill_date或account_type");
    };
    let Some(day) = (date.len() == 8).then(|| wxpay::time::parse_bill_date(date).ok()).flatten() else {
        return refuse(ErrCode::ParamError, "bill_date参数格式错误");
    };
    if !matches!(account, "Basic" | "Operation" | "Fees") {
        return refuse(ErrCode::ParamError, "account_type参数错误");
    }
    let gzip = match gzip_wanted(request) {
        Ok(g) => g,
        Err(a) => return a,
    };
    match bills::availability(day, sim.clock.now()) {
        Err(Unavailable::Creating) => return refuse(ErrCode::BillCreating, "账单生成中，请10点后再下载"),
        Err(Unavailable::OutOfRange) | Err(Unavailable::NoBill) => return refuse(ErrCode::NoBillExist, "账单不存在"),
        Ok(()) => {}
    }
    match sim.with_merchant(&request.mch_id, |m| bills::fund_flow_bill(m, day, account)).flatten() {
        Some(text) => bill_answer(text, gzip),
        None => refuse(ErrCode::NoBillExist, "账单不存在"),
    }
}
