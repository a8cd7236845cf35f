//! Refund applications and refunds (ARCHITECTURE.md §3 "Refund", wxpay-v2.md §5.4–5.5, §6.2).
//!
//! Approving an application fixes the refund's `out_refund_no` and amount in the same transaction that reserves
//! the amount on the order (`refund_reserved + amount <= total_fee`, a conditional update), so racing approvals
//! can never promise more than the order's amount. The refunded total follows only on SUCCESS; REFUNDCLOSE and
//! FAILED give the reservation back.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use wxpay::{Fen, OutRefundNo, RefundId, RetryClass, TradeState};

use crate::audit::{append_in, audit};
use crate::db::{args, is_unique_violation, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    id_from_db, ApplicationId, ApplicationOrigin, ApplicationStatus, Approval, AuditResult, ExternalRefund, MerchantId,
    NewRefundApplication, Order, OrderId, Provenance, Refund, RefundApplication, RefundObservation, RefundOrigin,
    RefundRecordId, RefundState, SendFailure, Source,
};
use crate::orders::{apply_order_event_in, beijing_day, insert_event, order_in, Event};
use crate::transitions::{
    application_transition, refund_transition, ApplicationEvent, OrderEvent, RefundEvent, RefundObserved,
};
use crate::Ledger;

const REFUND_COLS: &str = "id, merchant_id, order_id, application_id, out_refund_no, amount, total_fee, reason, \
    origin, status, err_code, attempts, last_attempt_at, last_error_code, last_error_message, refund_id, \
    refund_channel, recv_account, refund_account, success_at, success_day, flag_reason, next_check_at, \
    last_checked_at, check_count, created_by, created_at, updated_at, resolved_at, resolved_by, resolved_note";

const APP_COLS: &str = "id, merchant_id, order_id, external_ref, amount, reason, origin, status, requested_by, \
    requested_at, decided_by, decided_at, decision_note";

/// WeChat allows at most 50 refunds per order (§5.4).
pub const MAX_REFUNDS_PER_ORDER: i64 = 50;

/// `refund_desc` is at most 80 characters (§5.4); the customer sees it.
pub const REFUND_DESC_MAX_CHARS: usize = 80;

fn refund_from_row(row: &Row) -> Result<Refund> {
    Ok(Refund {
        id: RefundRecordId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        order_id: OrderId(row.i64("order_id")?),
        application_id: row.opt_i64("application_id")?.map(ApplicationId),
        out_refund_no: id_from_db("out_refund_no", OutRefundNo::new(row.text("out_refund_no")?))?,
        amount: Fen(row.i64("amount")?),
        total_fee: Fen(row.i64("total_fee")?),
        reason: row.opt_text("reason")?,
        origin: RefundOrigin::from_db(&row.text("origin")?)?,
        status: RefundState::from_db(&row.text("status")?)?,
        err_code: row.opt_text("err_code")?,
        attempts: row.i64("attempts")?,
        last_attempt_at: row.opt_ts("last_attempt_at")?,
        last_error_code: row.opt_text("last_error_code")?,
        last_error_message: row.opt_text("last_error_message")?,
        refund_id: row.opt_text("refund_id")?.map(|t| id_from_db("refund_id", RefundId::new(t))).transpose()?,
        refund_channel: row.opt_text("refund_channel")?,
        recv_account: row.opt_text("recv_account")?,
        refund_account: row.opt_text("refund_account")?,
        success_at: row.opt_ts("success_at")?,
        success_day: row.opt_date("success_day")?,
        flag_reason: row.opt_text("flag_reason")?,
        next_check_at: row.opt_ts("next_check_at")?,
        last_checked_at: row.opt_ts("last_checked_at")?,
        check_count: row.i64("check_count")?,
        created_by: row.text("created_by")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
        resolved_at: row.opt_ts("resolved_at")?,
        resolved_by: row.opt_text("resolved_by")?,
        resolved_note: row.opt_text("resolved_note")?,
    })
}

fn application_from_row(row: &Row) -> Result<RefundApplication> {
    Ok(RefundApplication {
        id: ApplicationId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        order_id: OrderId(row.i64("order_id")?),
        external_ref: row.opt_text("external_ref")?,
        amount: Fen(row.i64("amount")?),
        reason: row.opt_text("reason")?,
        origin: ApplicationOrigin::from_db(&row.text("origin")?)?,
        status: ApplicationStatus::from_db(&row.text("status")?)?,
        requested_by: row.text("requested_by")?,
        requested_at: row.ts("requested_at")?,
        decided_by: row.opt_text("decided_by")?,
        decided_at: row.opt_ts("decided_at")?,
        decision_note: row.opt_text("decision_note")?,
    })
}

pub(crate) async fn refund_in(tx: &mut Tx, id: RefundRecordId) -> Result<Refund> {
    let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE id = $1");
    let row = tx.fetch_optional(&sql, args![id.0]).await?;
    row.as_ref()
        .map(refund_from_row)
        .transpose()?
        .ok_or_else(|| Error::NotFound { what: "refund", key: id.to_string() })
}

pub(crate) async fn refund_by_no_in(tx: &mut Tx, merchant: MerchantId, no: &OutRefundNo) -> Result<Option<Refund>> {
    let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE merchant_id = $1 AND out_refund_no = $2");
    tx.fetch_optional(&sql, args![merchant.0, no.as_str()]).await?.as_ref().map(refund_from_row).transpose()
}

async fn application_in(tx: &mut Tx, id: ApplicationId) -> Result<RefundApplication> {
    let sql = format!("SELECT {APP_COLS} FROM refund_applications WHERE id = $1");
    let row = tx.fetch_optional(&sql, args![id.0]).await?;
    row.as_ref()
        .map(application_from_row)
        .transpose()?
        .ok_or_else(|| Error::NotFound { what: "refund application", key: id.to_string() })
}

/// Reserves `amount` of the order for a new refund: one conditional update that checks the order is paid, the
/// remainder covers the amount, fewer than 50 refunds exist and (when given) the payment is recent enough.
async fn reserve_in(
    tx: &mut Tx,
    order: &Order,
    amount: Fen,
    at: DateTime<Utc>,
    max_age: Option<Duration>,
) -> Result<()> {
    let oldest = max_age.and_then(|age| at.checked_sub_signed(age));
    let age_clause = if oldest.is_some() { " AND paid_at >= $5" } else { "" };
    let sql = format!(
        "UPDATE orders SET refund_reserved = refund_reserved + $1, refund_count = refund_count + 1, updated_at = $2 \
         WHERE id = $3 AND trade_state IN ('SUCCESS', 'REFUND') AND refund_reserved + $1 <= total_fee \
         AND refund_count < $4{age_clause}"
    );
    let mut a = args![amount, at, order.id.0, MAX_REFUNDS_PER_ORDER];
    if let Some(oldest) = oldest {
        a.push(oldest.into());
    }
    if tx.execute(&sql, a).await? == 1 {
        return Ok(());
    }
    let now = order_in(tx, order.id).await?;
    let reason = if !now.trade_state.is_paid() {
        "the order is not paid"
    } else if now.refund_reserved.get().saturating_add(amount.get()) > now.total_fee.get() {
        "the amount exceeds what is left to refund"
    } else if now.refund_count >= MAX_REFUNDS_PER_ORDER {
        "the order already has 50 refunds"
    } else {
        "the payment is too old to refund"
    };
    Err(Error::NotRefundable { order: order.id.0, requested: amount.get(), reason })
}

/// Extra facts that come with a refund event.
#[derive(Debug, Default)]
struct RefundChange<'a> {
    refund_id: Option<&'a RefundId>,
    observation: Option<&'a RefundObservation>,
    /// For FAILED: the err_code.
    err_code: Option<String>,
}

/// What applying one fact to a refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundApplied {
    Changed { from: RefundState, to: RefundState },
    Unchanged,
    Duplicate,
}

/// Applies one event to a refund inside `tx`, with its money effects on the order in the same transaction:
/// SUCCESS adds to the refunded total (never past the reserved amount), REFUNDCLOSE / FAILED release the
/// reservation, and the first refund WeChat accepted (any outcome but FAILED) turns a SUCCESS order into REFUND.
async fn apply_refund_event_in(
    tx: &mut Tx,
    refund: &Refund,
    event: RefundEvent,
    change: RefundChange<'_>,
    provenance: &Provenance,
) -> Result<RefundApplied> {
    let from = refund.status;
    let to = refund_transition(from, event)?;
    let obs = change.observation;
    let wechat_refund_id = change.refund_id.or(obs.and_then(|o| o.refund_id.as_ref())).map(|r| r.as_str().to_owned());
    if to == from {
        if refund.refund_id.is_none() && wechat_refund_id.is_some() {
            tx.execute(
                "UPDATE refunds SET refund_id = $1, updated_at = $2 WHERE id = $3 AND refund_id IS NULL",
                args![wechat_refund_id, provenance.at, refund.id.0],
            )
            .await?;
        }
        return Ok(RefundApplied::Unchanged);
    }
    let mut ev = Event::new(refund.order_id, "REFUND_STATE", provenance);
    ev.refund_id = Some(refund.id);
    ev.application_id = refund.application_id;
    ev.from_state = Some(from.as_str());
    ev.to_state = Some(to.as_str());
    ev.amount = Some(refund.amount);
    ev.note = change.err_code.clone();
    ev.fact_key = Some(format!("refund:{}:{}", refund.id, to.as_str()));
    if !insert_event(tx, ev).await? {
        return Ok(RefundApplied::Duplicate);
    }
    let success_at = match to {
        RefundState::Success => {
            Some(obs.and_then(|o| o.success_time).map(wxpay::BeijingTime::to_utc).unwrap_or(provenance.at))
        }
        _ => None,
    };
    let flag = match to {
        RefundState::Change => Some("CHANGE".to_owned()),
        RefundState::Failed => change.err_code.clone().or_else(|| Some("FAILED".into())),
        RefundState::Success => None,
        _ => refund.flag_reason.clone(),
    };
    let terminal = matches!(to, RefundState::Success | RefundState::RefundClose | RefundState::Failed);
    let next_check = if terminal { None } else { refund.next_check_at };
    let err_code = if to == RefundState::Failed { change.err_code.or_else(|| Some("UNKNOWN".into())) } else { None };
    let n = tx
        .execute(
            "UPDATE refunds SET status = $1, refund_id = COALESCE(refund_id, $2), success_at = COALESCE($3, success_at), \
             success_day = COALESCE($4, success_day), recv_account = COALESCE($5, recv_account), \
             refund_account = COALESCE($6, refund_account), refund_channel = COALESCE($7, refund_channel), \
             err_code = $8, flag_reason = $9, next_check_at = $10, updated_at = $11 \
             WHERE id = $12 AND status = $13",
            args![
                to.as_str(),
                wechat_refund_id,
                success_at,
                success_at.map(beijing_day),
                obs.and_then(|o| o.recv_account.clone()),
                obs.and_then(|o| o.refund_account.clone()),
                obs.and_then(|o| o.refund_channel.clone()),
                err_code,
                flag,
                next_check,
                provenance.at,
                refund.id.0,
                from.as_str()
            ],
        )
        .await?;
    if n != 1 {
        return Err(Error::Conflict(format!("refund {}", refund.id)));
    }
    if to == RefundState::Success {
        let n = tx
            .execute(
                "UPDATE orders SET refunded_total = refunded_total + $1, updated_at = $2 \
                 WHERE id = $3 AND refunded_total + $1 <= refund_reserved",
                args![refund.amount, provenance.at, refund.order_id.0],
            )
            .await?;
        if n != 1 {
            return Err(Error::NotRefundable {
                order: refund.order_id.0,
                requested: refund.amount.get(),
                reason: "the refunded total would pass the reserved amount",
            });
        }
    }
    if from.holds_money() && !to.holds_money() {
        let n = tx
            .execute(
                "UPDATE orders SET refund_reserved = refund_reserved - $1, updated_at = $2 \
                 WHERE id = $3 AND refund_reserved - $1 >= refunded_total",
                args![refund.amount, provenance.at, refund.order_id.0],
            )
            .await?;
        if n != 1 {
            return Err(Error::Corrupt(format!("order {} reservation below its refunded total", refund.order_id)));
        }
    }
    // Every outcome WeChat reports means it accepted the refund (its order turned REFUND), also when the accepting
    // reply was lost and the first news is REFUNDCLOSE; only FAILED (refused) leaves the order as it was.
    if matches!(to, RefundState::Processing | RefundState::Success | RefundState::Change | RefundState::RefundClose) {
        let order = order_in(tx, refund.order_id).await?;
        if order.trade_state == TradeState::Success {
            apply_order_event_in(tx, &order, OrderEvent::RefundStarted, None, provenance).await?;
        }
    }
    Ok(RefundApplied::Changed { from, to })
}

pub(crate) async fn apply_refund_observation_in(
    tx: &mut Tx,
    refund: &Refund,
    observation: &RefundObservation,
    provenance: &Provenance,
) -> Result<RefundApplied> {
    let observed = RefundObserved::from_status(&observation.status).ok_or_else(|| {
        Error::InvalidInput(format!("refund_status {} is unknown to this version", observation.status))
    })?;
    let change = RefundChange { observation: Some(observation), ..RefundChange::default() };
    apply_refund_event_in(tx, refund, RefundEvent::Observed(observed), change, provenance).await
}

/// Records a refund found at WeChat that Paydesk did not create, reserving its amount, then applies what WeChat
/// says about it through the same path as every other refund.
pub(crate) async fn insert_external_refund_in(
    tx: &mut Tx,
    external: &ExternalRefund,
    provenance: &Provenance,
) -> Result<Refund> {
    if external.amount.get() <= 0 {
        return Err(Error::InvalidInput("refund amount must be positive".into()));
    }
    let order = order_in(tx, external.order).await?;
    reserve_in(tx, &order, external.amount, provenance.at, None).await?;
    let created_by = provenance.actor.clone().unwrap_or_else(|| provenance.source.as_str().to_owned());
    let row = tx
        .fetch_one(
            "INSERT INTO refunds (merchant_id, order_id, out_refund_no, amount, total_fee, origin, status, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'EXTERNAL', 'CREATED', $6, $7, $7) RETURNING id",
            args![
                order.merchant_id.0,
                order.id.0,
                external.out_refund_no.as_str(),
                external.amount,
                order.total_fee,
                created_by,
                provenance.at
            ],
        )
        .await
        .map_err(|e| duplicate_refund_no(e, &external.out_refund_no))?;
    let id = RefundRecordId(row.i64("id")?);
    let mut ev = Event::new(order.id, "REFUND_CREATED", provenance);
    ev.refund_id = Some(id);
    ev.to_state = Some("CREATED");
    ev.amount = Some(external.amount);
    ev.note = Some(format!("EXTERNAL {}", external.out_refund_no));
    ev.fact_key = Some(format!("refund:{id}:CREATED"));
    insert_event(tx, ev).await?;
    let refund = refund_in(tx, id).await?;
    apply_refund_observation_in(tx, &refund, &external.observation, provenance).await?;
    refund_in(tx, id).await
}

fn duplicate_refund_no(err: Error, no: &OutRefundNo) -> Error {
    if is_unique_violation(&err) {
        Error::Duplicate(format!("out_refund_no {no} is already used"))
    } else {
        err
    }
}

/// Refund errors a person must act on (§5.4): funds, or the payer's account.
fn needs_person(code: &str) -> bool {
    matches!(code, "NOTENOUGH" | "USER_ACCOUNT_ABNORMAL" | "TRADE_OVERDUE" | "ERROR")
}

impl Ledger {
    /// Registers a refund application. Idempotent on `external_ref`: the same reference returns the first
    /// application (`false`); the same reference with another order or amount is refused.
    pub async fn register_refund_application(&self, new: &NewRefundApplication) -> Result<(RefundApplication, bool)> {
        if new.amount.get() <= 0 {
            return Err(Error::InvalidInput("refund amount must be positive".into()));
        }
        let mut tx = self.db.begin().await?;
        let order = order_in(&mut tx, new.order).await?;
        if !order.trade_state.is_paid() {
            return Err(Error::NotRefundable {
                order: order.id.0,
                requested: new.amount.get(),
                reason: "the order is not paid",
            });
        }
        if new.amount > order.refundable() {
            return Err(Error::NotRefundable {
                order: order.id.0,
                requested: new.amount.get(),
                reason: "the amount exceeds what is left to refund",
            });
        }
        let sql = format!(
            "INSERT INTO refund_applications (merchant_id, order_id, external_ref, amount, reason, origin, status, \
             requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8) \
             ON CONFLICT (merchant_id, external_ref) DO NOTHING RETURNING {APP_COLS}"
        );
        let inserted = tx
            .fetch_optional(
                &sql,
                args![
                    order.merchant_id.0,
                    order.id.0,
                    new.external_ref.clone(),
                    new.amount,
                    new.reason.clone(),
                    new.origin.as_str(),
                    new.requested_by.as_str(),
                    new.requested_at
                ],
            )
            .await?;
        let result = match inserted {
            Some(row) => {
                let app = application_from_row(&row)?;
                let source = match new.origin {
                    ApplicationOrigin::ShopBackend => Source::ShopBackend,
                    ApplicationOrigin::Desk => Source::Person,
                };
                let provenance = Provenance::new(source, new.requested_at).by(new.requested_by.clone());
                let mut ev = Event::new(order.id, "APPLICATION", &provenance);
                ev.application_id = Some(app.id);
                ev.to_state = Some("PENDING");
                ev.amount = Some(new.amount);
                ev.note = new.reason.clone();
                insert_event(&mut tx, ev).await?;
                (app, true)
            }
            None => {
                let sql =
                    format!("SELECT {APP_COLS} FROM refund_applications WHERE merchant_id = $1 AND external_ref = $2");
                let row = tx.fetch_one(&sql, args![order.merchant_id.0, new.external_ref.clone()]).await?;
                let app = application_from_row(&row)?;
                if app.order_id != new.order || app.amount != new.amount {
                    return Err(Error::Duplicate(format!(
                        "refund application {:?} was registered for another order or amount",
                        new.external_ref
                    )));
                }
                (app, false)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    pub async fn refund_application(&self, id: ApplicationId) -> Result<RefundApplication> {
        let sql = format!("SELECT {APP_COLS} FROM refund_applications WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(application_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "refund application", key: id.to_string() })
    }

    /// Applications waiting for a decision, oldest first.
    pub async fn pending_applications(&self, limit: u32) -> Result<Vec<RefundApplication>> {
        let sql = format!(
            "SELECT {APP_COLS} FROM refund_applications WHERE status = 'PENDING' ORDER BY requested_at, id LIMIT $1"
        );
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(application_from_row).collect()
    }

    pub async fn applications_for_order(&self, order: OrderId) -> Result<Vec<RefundApplication>> {
        let sql = format!("SELECT {APP_COLS} FROM refund_applications WHERE order_id = $1 ORDER BY id");
        self.db.fetch_all(&sql, args![order.0]).await?.iter().map(application_from_row).collect()
    }

    /// Approves a PENDING application and writes its refund (CREATED, with the fixed `out_refund_no`) in one
    /// transaction that reserves the amount on the order. Nothing is sent here: the caller sends afterwards,
    /// and every retry uses the same number and amount. Audited.
    pub async fn approve_application(&self, id: ApplicationId, approval: &Approval) -> Result<Refund> {
        let mut tx = self.db.begin().await?;
        let app = application_in(&mut tx, id).await?;
        application_transition(app.status, ApplicationEvent::Approve)?;
        let n = tx
            .execute(
                "UPDATE refund_applications SET status = 'APPROVED', decided_by = $1, decided_at = $2, \
                 decision_note = $3 WHERE id = $4 AND status = 'PENDING'",
                args![approval.approver.as_str(), approval.at, approval.note.clone(), id.0],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!("refund application {id}")));
        }
        let amount = approval.amount.unwrap_or(app.amount);
        if amount.get() <= 0 || amount > app.amount {
            return Err(Error::InvalidInput(format!(
                "the approved amount ({} fen) must be between 1 fen and the application's {} fen",
                amount.get(),
                app.amount.get()
            )));
        }
        let refund_desc = approval.refund_desc.clone().or_else(|| app.reason.clone());
        if refund_desc.as_deref().is_some_and(|d| d.chars().count() > REFUND_DESC_MAX_CHARS) {
            return Err(Error::InvalidInput(format!("refund_desc is longer than {REFUND_DESC_MAX_CHARS} characters")));
        }
        let order = order_in(&mut tx, app.order_id).await?;
        reserve_in(&mut tx, &order, amount, approval.at, Some(approval.max_age)).await?;
        // Due at once: if nothing sends it now (the desk closes between approval and send), the next round does.
        let row = tx
            .fetch_one(
                "INSERT INTO refunds (merchant_id, order_id, application_id, out_refund_no, amount, total_fee, reason, \
                 origin, status, created_by, created_at, updated_at, next_check_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'APPLICATION', 'CREATED', $8, $9, $9, $9) RETURNING id",
                args![
                    order.merchant_id.0,
                    order.id.0,
                    id.0,
                    approval.out_refund_no.as_str(),
                    amount,
                    order.total_fee,
                    refund_desc,
                    approval.approver.as_str(),
                    approval.at
                ],
            )
            .await
            .map_err(|e| duplicate_refund_no(e, &approval.out_refund_no))?;
        let refund_id = RefundRecordId(row.i64("id")?);
        let provenance = Provenance::new(Source::Person, approval.at).by(approval.approver.clone());
        let mut ev = Event::new(order.id, "APPLICATION", &provenance);
        ev.application_id = Some(id);
        ev.from_state = Some("PENDING");
        ev.to_state = Some("APPROVED");
        ev.amount = Some(amount);
        ev.note = approval.note.clone();
        ev.fact_key = Some(format!("application:{id}:APPROVED"));
        insert_event(&mut tx, ev).await?;
        let mut ev = Event::new(order.id, "REFUND_CREATED", &provenance);
        ev.refund_id = Some(refund_id);
        ev.application_id = Some(id);
        ev.to_state = Some("CREATED");
        ev.amount = Some(amount);
        ev.note = Some(approval.out_refund_no.to_string());
        ev.fact_key = Some(format!("refund:{refund_id}:CREATED"));
        insert_event(&mut tx, ev).await?;
        let detail = serde_json::json!({
            "application": id.0,
            "order": order.out_trade_no.as_str(),
            "out_refund_no": approval.out_refund_no.as_str(),
            "amount_fen": amount.get(),
            "applied_fen": app.amount.get(),
        })
        .to_string();
        let subject = format!("refund_application:{id}");
        append_in(&mut tx, &audit(&approval.approver, "refund.approve", subject, AuditResult::Ok, detail, approval.at))
            .await?;
        let refund = refund_in(&mut tx, refund_id).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Rejects a PENDING application. Audited.
    pub async fn reject_application(
        &self,
        id: ApplicationId,
        who: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<RefundApplication> {
        self.decide(id, ApplicationEvent::Reject, who, note, at).await
    }

    /// Cancels a PENDING application (the customer withdrew it). Audited.
    pub async fn cancel_application(
        &self,
        id: ApplicationId,
        who: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<RefundApplication> {
        self.decide(id, ApplicationEvent::Cancel, who, note, at).await
    }

    async fn decide(
        &self,
        id: ApplicationId,
        event: ApplicationEvent,
        who: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<RefundApplication> {
        let mut tx = self.db.begin().await?;
        let app = application_in(&mut tx, id).await?;
        let to = application_transition(app.status, event)?;
        let n = tx
            .execute(
                "UPDATE refund_applications SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
                 WHERE id = $5 AND status = 'PENDING'",
                args![to.as_str(), who, at, note, id.0],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!("refund application {id}")));
        }
        let provenance = Provenance::new(Source::Person, at).by(who);
        let mut ev = Event::new(app.order_id, "APPLICATION", &provenance);
        ev.application_id = Some(id);
        ev.from_state = Some("PENDING");
        ev.to_state = Some(to.as_str());
        ev.amount = Some(app.amount);
        ev.note = note.map(str::to_owned);
        ev.fact_key = Some(format!("application:{id}:{}", to.as_str()));
        insert_event(&mut tx, ev).await?;
        let action = if to == ApplicationStatus::Rejected { "refund.reject" } else { "refund.cancel" };
        let detail =
            serde_json::json!({ "application": id.0, "amount_fen": app.amount.get(), "note": note }).to_string();
        append_in(&mut tx, &audit(who, action, format!("refund_application:{id}"), AuditResult::Ok, detail, at))
            .await?;
        let app = application_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(app)
    }

    pub async fn refund(&self, id: RefundRecordId) -> Result<Refund> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(refund_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "refund", key: id.to_string() })
    }

    pub async fn refund_by_out_refund_no(&self, merchant: MerchantId, no: &OutRefundNo) -> Result<Option<Refund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE merchant_id = $1 AND out_refund_no = $2");
        self.db.fetch_optional(&sql, args![merchant.0, no.as_str()]).await?.as_ref().map(refund_from_row).transpose()
    }

    pub async fn refunds_for_order(&self, order: OrderId) -> Result<Vec<Refund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE order_id = $1 ORDER BY id");
        self.db.fetch_all(&sql, args![order.0]).await?.iter().map(refund_from_row).collect()
    }

    /// Refunds that need watching: not yet final (CREATED, PROCESSING, CHANGE) or flagged for a person.
    pub async fn refunds_to_watch(&self, limit: u32) -> Result<Vec<Refund>> {
        let sql = format!(
            "SELECT {REFUND_COLS} FROM refunds WHERE status IN ('CREATED', 'PROCESSING', 'CHANGE') \
             OR flag_reason IS NOT NULL ORDER BY id LIMIT $1"
        );
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(refund_from_row).collect()
    }

    /// Refunds whose next refundquery is due, earliest first.
    pub async fn refunds_due_for_check(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Refund>> {
        let sql = format!(
            "SELECT {REFUND_COLS} FROM refunds WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
             ORDER BY next_check_at, id LIMIT $2"
        );
        self.db.fetch_all(&sql, args![now, i64::from(limit)]).await?.iter().map(refund_from_row).collect()
    }

    /// Sets (or clears) the next refundquery time; `checked_at` records a check just made.
    pub async fn schedule_refund_check(
        &self,
        id: RefundRecordId,
        next_check_at: Option<DateTime<Utc>>,
        checked_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let sql = if checked_at.is_some() {
            "UPDATE refunds SET next_check_at = $1, last_checked_at = $2, check_count = check_count + 1 WHERE id = $3"
        } else {
            "UPDATE refunds SET next_check_at = $1, last_checked_at = COALESCE($2, last_checked_at) WHERE id = $3"
        };
        if tx.execute(sql, args![next_check_at, checked_at, id.0]).await? != 1 {
            return Err(Error::NotFound { what: "refund", key: id.to_string() });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that a refund request is about to be sent: CREATED only; counts the attempt. Refused with
    /// [`Error::TooSoon`] when another request for the same order was made less than `min_interval` ago (WeChat
    /// allows one refund request a minute per order; across desktops this check is the only one that holds).
    pub async fn begin_refund_attempt(
        &self,
        id: RefundRecordId,
        at: DateTime<Utc>,
        min_interval: Duration,
    ) -> Result<Refund> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                "UPDATE refunds SET attempts = attempts + 1, last_attempt_at = $1, updated_at = $1 \
                 WHERE id = $2 AND status = 'CREATED'",
                args![at, id.0],
            )
            .await?;
        let refund = refund_in(&mut tx, id).await?;
        if n != 1 {
            return Err(crate::transitions::InvalidTransition {
                machine: "refund",
                from: refund.status.to_string(),
                event: "SendAttempt".into(),
            }
            .into());
        }
        let since = at.checked_sub_signed(min_interval).unwrap_or(at);
        let n = tx
            .execute(
                "UPDATE orders SET last_refund_request_at = $1 WHERE id = $2 \
                 AND (last_refund_request_at IS NULL OR last_refund_request_at <= $3)",
                args![at, refund.order_id.0, since],
            )
            .await?;
        if n != 1 {
            return Err(Error::TooSoon(format!(
                "order {} had a refund request less than {min_interval} ago",
                refund.order_id
            )));
        }
        let provenance = Provenance::new(Source::System, at);
        let mut ev = Event::new(refund.order_id, "REFUND_ATTEMPT", &provenance);
        ev.refund_id = Some(id);
        ev.amount = Some(refund.amount);
        ev.note = Some(format!("attempt {} of {}", refund.attempts, refund.out_refund_no));
        insert_event(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// The refund request's reply said SUCCESS (accepted): CREATED → PROCESSING, keeping WeChat's refund_id.
    pub async fn record_refund_accepted(
        &self,
        id: RefundRecordId,
        refund_id: Option<&RefundId>,
        provenance: &Provenance,
    ) -> Result<RefundApplied> {
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        let change = RefundChange { refund_id, ..RefundChange::default() };
        let applied = apply_refund_event_in(&mut tx, &refund, RefundEvent::Accepted, change, provenance).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// The refund request failed. Retry classes R and W keep it CREATED with the last error (it is retried with
    /// the same out_refund_no); N makes it FAILED with the err_code and gives the reservation back. NOTENOUGH,
    /// USER_ACCOUNT_ABNORMAL and the like flag it for a person.
    pub async fn record_refund_send_failure(&self, id: RefundRecordId, failure: &SendFailure) -> Result<Refund> {
        let code = failure.err_code.as_ref().map_or_else(|| "TRANSPORT".to_owned(), |c| c.as_str().to_owned());
        let flag = needs_person(&code).then(|| code.clone());
        let provenance = Provenance::new(Source::System, failure.at);
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        if failure.retry == RetryClass::Never {
            let change = RefundChange { err_code: Some(code.clone()), ..RefundChange::default() };
            apply_refund_event_in(&mut tx, &refund, RefundEvent::SendRefused, change, &provenance).await?;
            tx.execute(
                "UPDATE refunds SET last_error_code = $1, last_error_message = $2 WHERE id = $3",
                args![code.as_str(), failure.message.clone(), id.0],
            )
            .await?;
        } else {
            refund_transition(refund.status, RefundEvent::SendFailedRetryable)?;
            let n = tx
                .execute(
                    "UPDATE refunds SET last_error_code = $1, last_error_message = $2, \
                     flag_reason = COALESCE($3, flag_reason), updated_at = $4 WHERE id = $5 AND status = 'CREATED'",
                    args![code.as_str(), failure.message.clone(), flag, failure.at, id.0],
                )
                .await?;
            if n != 1 {
                return Err(Error::Conflict(format!("refund {id}")));
            }
            let mut ev = Event::new(refund.order_id, "REFUND_SEND_FAILED", &provenance);
            ev.refund_id = Some(id);
            ev.note = Some(code);
            insert_event(&mut tx, ev).await?;
        }
        let refund = refund_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Applies what a refundquery (or refund notification) says about a refund; records the check.
    pub async fn apply_refund_observation(
        &self,
        id: RefundRecordId,
        observation: &RefundObservation,
        provenance: &Provenance,
    ) -> Result<RefundApplied> {
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        if let Some(fee) = observation.refund_fee {
            if fee != refund.amount {
                return Err(Error::InvalidInput(format!(
                    "refund {id} is {} fen, WeChat says {} fen",
                    refund.amount.0, fee.0
                )));
            }
        }
        if provenance.source == Source::Query {
            tx.execute(
                "UPDATE refunds SET last_checked_at = $1, check_count = check_count + 1 WHERE id = $2",
                args![provenance.at, id.0],
            )
            .await?;
        }
        let applied = apply_refund_observation_in(&mut tx, &refund, observation, provenance).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Records a refund found at WeChat that Paydesk did not create (refundquery, bill), with its status.
    pub async fn record_external_refund(&self, external: &ExternalRefund, provenance: &Provenance) -> Result<Refund> {
        let mut tx = self.db.begin().await?;
        let refund = insert_external_refund_in(&mut tx, external, provenance).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Marks a refund for a person, or clears the mark (`None`) once handled.
    pub async fn set_refund_flag(
        &self,
        id: RefundRecordId,
        reason: Option<&str>,
        provenance: &Provenance,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        tx.execute(
            "UPDATE refunds SET flag_reason = $1, updated_at = $2 WHERE id = $3",
            args![reason, provenance.at, id.0],
        )
        .await?;
        let mut ev = Event::new(
            refund.order_id,
            if reason.is_some() { "REFUND_FLAGGED" } else { "REFUND_UNFLAGGED" },
            provenance,
        );
        ev.refund_id = Some(id);
        ev.note = reason.map(str::to_owned);
        insert_event(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest refunds, newest first.
    pub async fn recent_refunds(&self, limit: u32) -> Result<Vec<Refund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds ORDER BY id DESC LIMIT $1");
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(refund_from_row).collect()
    }

    /// The refund written when the application was approved, if any.
    pub async fn refund_for_application(&self, application: ApplicationId) -> Result<Option<Refund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE application_id = $1");
        self.db.fetch_optional(&sql, args![application.0]).await?.as_ref().map(refund_from_row).transpose()
    }

    /// The newest applications whatever their status, newest first.
    pub async fn recent_applications(&self, limit: u32) -> Result<Vec<RefundApplication>> {
        let sql = format!("SELECT {APP_COLS} FROM refund_applications ORDER BY id DESC LIMIT $1");
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(application_from_row).collect()
    }

    /// PENDING applications with an id above `after` (what arrived since the desk last looked), oldest first.
    pub async fn pending_applications_after(&self, after: i64, limit: u32) -> Result<Vec<RefundApplication>> {
        let sql = format!(
            "SELECT {APP_COLS} FROM refund_applications WHERE id > $1 AND status = 'PENDING' ORDER BY id LIMIT $2"
        );
        self.db.fetch_all(&sql, args![after, i64::from(limit)]).await?.iter().map(application_from_row).collect()
    }

    /// The highest application id (0 when there is none): where "new since" starts.
    pub async fn last_application_id(&self) -> Result<i64> {
        let row = self.db.fetch_one("SELECT COALESCE(MAX(id), 0) AS last_id FROM refund_applications", args![]).await?;
        row.i64("last_id")
    }

    /// The owner asks for another attempt of a CREATED refund now (after topping up for NOTENOUGH, or after the
    /// automatic retries ran out): clears the flag and makes it due. Same out_refund_no, same amount. Audited.
    pub async fn request_refund_retry(&self, id: RefundRecordId, who: &str, at: DateTime<Utc>) -> Result<Refund> {
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        let n = tx
            .execute(
                "UPDATE refunds SET flag_reason = NULL, next_check_at = $1, updated_at = $1 \
                 WHERE id = $2 AND status = 'CREATED'",
                args![at, id.0],
            )
            .await?;
        if n != 1 {
            return Err(crate::transitions::InvalidTransition {
                machine: "refund",
                from: refund.status.to_string(),
                event: "Retry".into(),
            }
            .into());
        }
        let provenance = Provenance::new(Source::Person, at).by(who);
        let mut ev = Event::new(refund.order_id, "REFUND_RETRY_REQUESTED", &provenance);
        ev.refund_id = Some(id);
        ev.amount = Some(refund.amount);
        ev.note = refund.flag_reason.clone();
        insert_event(&mut tx, ev).await?;
        let detail = serde_json::json!({
            "out_refund_no": refund.out_refund_no.as_str(),
            "amount_fen": refund.amount.get(),
            "flag": refund.flag_reason,
            "attempts": refund.attempts,
        })
        .to_string();
        append_in(
            &mut tx,
            &audit(who, "refund.retry", format!("refund:{}", refund.out_refund_no), AuditResult::Ok, detail, at),
        )
        .await?;
        let refund = refund_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// The owner refunded the customer outside WeChat Pay for a refund WeChat refused for good (FAILED, e.g.
    /// USER_ACCOUNT_ABNORMAL). The refund stays FAILED (nothing moved at WeChat); the mark clears its flag. Once.
    /// Audited.
    pub async fn mark_refund_resolved(
        &self,
        id: RefundRecordId,
        who: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Refund> {
        if note.trim().is_empty() {
            return Err(Error::InvalidInput("say how the customer was refunded".into()));
        }
        let mut tx = self.db.begin().await?;
        let refund = refund_in(&mut tx, id).await?;
        let n = tx
            .execute(
                "UPDATE refunds SET resolved_at = $1, resolved_by = $2, resolved_note = $3, flag_reason = NULL, \
                 updated_at = $1 WHERE id = $4 AND status = 'FAILED' AND resolved_at IS NULL",
                args![at, who, note.trim(), id.0],
            )
            .await?;
        if n != 1 {
            return Err(crate::transitions::InvalidTransition {
                machine: "refund",
                from: if refund.resolved_at.is_some() {
                    "FAILED (already marked done)".into()
                } else {
                    refund.status.to_string()
                },
                event: "MarkDone".into(),
            }
            .into());
        }
        let provenance = Provenance::new(Source::Person, at).by(who);
        let mut ev = Event::new(refund.order_id, "REFUND_DONE_OUTSIDE", &provenance);
        ev.refund_id = Some(id);
        ev.amount = Some(refund.amount);
        ev.note = Some(note.trim().to_owned());
        ev.fact_key = Some(format!("refund:{id}:DONE_OUTSIDE"));
        insert_event(&mut tx, ev).await?;
        let detail = serde_json::json!({
            "out_refund_no": refund.out_refund_no.as_str(),
            "amount_fen": refund.amount.get(),
            "err_code": refund.err_code,
            "note": note.trim(),
        })
        .to_string();
        append_in(
            &mut tx,
            &audit(who, "refund.mark_done", format!("refund:{}", refund.out_refund_no), AuditResult::Ok, detail, at),
        )
        .await?;
        let refund = refund_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Refunds that reached SUCCESS on one Beijing day (the ledger side of the daily close).
    pub async fn refunds_succeeded_on(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<Refund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM refunds WHERE success_day = $1 AND merchant_id = $2 ORDER BY id");
        self.db.fetch_all(&sql, args![day, merchant.0]).await?.iter().map(refund_from_row).collect()
    }
}
