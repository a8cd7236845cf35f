//! The refund and audit commands of `docs/ui-contract.md` on [`Core`]: the application queue, the guards, approve
//! (write, then send), reject, retry, query now, mark done, the background refund round, the staff login, and the
//! audit log page. The rules live in [`crate::refunds`] and in the ledger; this file checks who may act, asks for
//! the owner password where the threshold says so, audits, and emits the events.

use chrono::Utc;
use ledger::{
    ApplicationId, ApplicationOrigin, ApplicationStatus, Approval, AuditResult, NewRefundApplication, Refund,
    RefundApplication,
};
use wxpay::{Fen, OutRefundNo};

use crate::contract::{ApplicationRow, AuditPage, AuditRow, ChainView, ExportResult, GuardCheck, RefundView};
use crate::core::{lock, Core, CoreEvent};
use crate::error::{CoreError, CoreResult, Msg};
use crate::refunds::{self, RefundChecked, Sent};
use crate::secret::Secret;
use crate::session::{Role, Session};
use crate::vault::{self, VaultContents};

/// Lists return at most this many rows.
const LIST_LIMIT: u32 = 200;
/// A customer's reason, as kept with the application.
const REASON_MAX_CHARS: usize = 200;

fn not_found_refund(no: &str) -> CoreError {
    CoreError::not_found(format!("账本中没有退款单 {no}。"), format!("There is no refund {no} in the ledger."))
}

fn not_found_application(id: i64) -> CoreError {
    CoreError::not_found(format!("账本中没有退款申请 #{id}。"), format!("There is no refund application #{id}."))
}

impl Core {
    async fn application(&self, session: &Session, id: i64) -> CoreResult<RefundApplication> {
        match session.ledger.refund_application(ApplicationId(id)).await {
            Ok(app) if app.merchant_id == session.merchant_id => Ok(app),
            Ok(_) | Err(ledger::Error::NotFound { .. }) => Err(not_found_application(id)),
            Err(e) => Err(e.into()),
        }
    }

    async fn refund_by_no(&self, session: &Session, no: &str) -> CoreResult<Refund> {
        let parsed = OutRefundNo::new(no.trim()).map_err(|_| not_found_refund(no))?;
        session.ledger.refund_by_out_refund_no(session.merchant_id, &parsed).await?.ok_or_else(|| not_found_refund(no))
    }

    async fn refund_view(&self, session: &Session, refund: &Refund) -> CoreResult<RefundView> {
        let order = session.ledger.order(refund.order_id).await?;
        let mut view = refunds::view(refund, order.out_trade_no.as_str(), self.locale());
        if session.role == Role::Staff {
            view.actions.retain(|a| *a == "query");
        }
        Ok(view)
    }

    /// Checks the owner password against the owner's vault (Argon2id; off the async threads). A wrong one is
    /// `wrong_password` and is audited as refused.
    async fn confirm_owner_password(&self, session: &Session, password: &str, subject: &str) -> CoreResult<()> {
        let path = self.paths().vault_file();
        let password = Secret::from(password);
        let opened = tokio::task::spawn_blocking(move || vault::open(&path, password.expose()).map(|_| ()))
            .await
            .map_err(|e| CoreError::Internal(format!("vault task: {e}")))?;
        if let Err(CoreError::WrongPassword) = &opened {
            let detail = serde_json::json!({ "reason": "wrong owner password" }).to_string();
            self.audit(session, "refund.password", subject.to_string(), AuditResult::Refused, detail).await;
        }
        opened
    }

    /// Asks for the password when `amount` is above the owner's threshold.
    async fn password_gate(
        &self,
        session: &Session,
        amount: Fen,
        password: Option<&str>,
        subject: &str,
    ) -> CoreResult<()> {
        if !self.needs_password(amount) {
            return Ok(());
        }
        let threshold = self.refund_password_threshold();
        match password.filter(|p| !p.is_empty()) {
            None => Err(CoreError::PasswordRequired { amount_fen: amount.get(), threshold_fen: threshold }),
            Some(p) => self.confirm_owner_password(session, p, subject).await,
        }
    }

    fn refund_password_threshold(&self) -> i64 {
        self.config().map_or(0, |c| c.settings.refund_password_threshold_fen)
    }

    fn needs_password(&self, amount: Fen) -> bool {
        amount.get() > self.refund_password_threshold()
    }

    // ---- Applications ------------------------------------------------------------------------------------------

    /// `refund_applications_list`: PENDING oldest first, or ALL newest first.
    pub async fn refund_applications_list(&self, status: &str) -> CoreResult<Vec<ApplicationRow>> {
        let session = self.session().await?;
        let apps = match status {
            "PENDING" => session.ledger.pending_applications(LIST_LIMIT).await?,
            "ALL" => session.ledger.recent_applications(LIST_LIMIT).await?,
            other => {
                return Err(CoreError::invalid(
                    format!("未知的筛选条件 {other}（应为 PENDING 或 ALL）。"),
                    format!("Unknown filter {other} (PENDING or ALL)."),
                ))
            }
        };
        let now = Utc::now();
        let mut rows = Vec::with_capacity(apps.len());
        for app in apps.iter().filter(|a| a.merchant_id == session.merchant_id) {
            rows.push(refunds::application_row(&session, app, now).await?);
        }
        Ok(rows)
    }

    /// One application with its order and refund (the CLI's `refund approve` without an amount reads it).
    pub async fn refund_application_row(&self, application_id: i64) -> CoreResult<ApplicationRow> {
        let session = self.session().await?;
        let app = self.application(&session, application_id).await?;
        refunds::application_row(&session, &app, Utc::now()).await
    }

    /// `refund_application_create`: an application entered at the desk (owner or staff).
    pub async fn refund_application_create(
        &self,
        out_trade_no: &str,
        amount_fen: i64,
        reason: &str,
    ) -> CoreResult<ApplicationRow> {
        let session = self.session().await?;
        self.touch();
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
            return Err(CoreError::invalid(
                format!("请填写退款原因（最多 {REASON_MAX_CHARS} 个字符）。"),
                format!("Enter the reason for the refund (at most {REASON_MAX_CHARS} characters)."),
            ));
        }
        if amount_fen <= 0 {
            return Err(CoreError::invalid("退款金额至少 ¥0.01。", "The refund amount must be at least ¥0.01."));
        }
        let order = crate::orders::find(&session, out_trade_no).await?;
        let now = Utc::now();
        let new = NewRefundApplication {
            order: order.id,
            external_ref: None,
            amount: Fen(amount_fen),
            reason: Some(reason.to_string()),
            origin: ApplicationOrigin::Desk,
            requested_by: session.actor.clone(),
            requested_at: now,
        };
        let (app, _) = match session.ledger.register_refund_application(&new).await {
            Ok(done) => done,
            Err(ledger::Error::NotRefundable { reason: why, .. }) => {
                return Err(CoreError::RefundGuard(Msg::new(
                    format!("不能为订单 {out_trade_no} 登记这笔退款申请：{}", guard_reason_zh(why)),
                    format!("This refund application cannot be registered for order {out_trade_no}: {why}."),
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let detail = serde_json::json!({
            "application": app.id.0, "order": out_trade_no, "amount_fen": amount_fen, "reason": reason,
        })
        .to_string();
        self.audit(&session, "refund.application", format!("refund_application:{}", app.id), AuditResult::Ok, detail)
            .await;
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
        refunds::application_row(&session, &app, now).await
    }

    /// `refund_guards`: the verdicts `refund_approve` would reach now, changing nothing.
    pub async fn refund_guards(&self, application_id: i64, amount_fen: i64) -> CoreResult<GuardCheck> {
        let session = self.session().await?;
        let app = self.application(&session, application_id).await?;
        let order = session.ledger.order(app.order_id).await?;
        let amount = Fen(amount_fen);
        let guards = refunds::check_guards(
            &order,
            &app,
            amount,
            session.role == Role::Owner,
            (Utc::now(), self.options().refund_min_interval),
            self.locale(),
        );
        Ok(refunds::guard_check(guards, self.needs_password(amount)))
    }

    /// `refund_approve`: guards, the password when above the threshold, then the ledger writes the refund with its
    /// fixed out_refund_no and amount, then it is sent once. Returns what is known after the send.
    pub async fn refund_approve(
        &self,
        application_id: i64,
        amount_fen: i64,
        refund_desc: Option<&str>,
        password: Option<&str>,
    ) -> CoreResult<RefundView> {
        let session = self.owner_session().await?;
        self.touch();
        let subject = format!("refund_application:{application_id}");
        let app = self.application(&session, application_id).await?;
        if app.status != ApplicationStatus::Pending {
            return Err(already_decided(&app));
        }
        let refund_desc = refund_desc.map(str::trim).filter(|d| !d.is_empty()).map(str::to_string);
        if refund_desc.as_ref().is_some_and(|d| d.chars().count() > ledger::REFUND_DESC_MAX_CHARS) {
            return Err(CoreError::invalid(
                "退款说明最多 80 个字符（顾客会看到它）。",
                "The refund note is at most 80 characters (the customer sees it).",
            ));
        }
        let amount = Fen(amount_fen);
        let now = Utc::now();
        let order = session.ledger.order(app.order_id).await?;
        let guards =
            refunds::check_guards(&order, &app, amount, true, (now, self.options().refund_min_interval), self.locale());
        if let Err(e) = refunds::guards_pass(&guards) {
            let blocked: Vec<&str> = guards.iter().filter(|g| !g.ok).map(|g| g.name).collect();
            let detail = serde_json::json!({ "amount_fen": amount_fen, "blocked": blocked }).to_string();
            self.audit(&session, "refund.approve", subject, AuditResult::Refused, detail).await;
            return Err(e);
        }
        self.password_gate(&session, amount, password, &subject).await?;
        let approval = Approval {
            out_refund_no: refunds::new_out_refund_no(app.id, now)?,
            approver: session.actor.clone(),
            note: None,
            at: now,
            max_age: refunds::MAX_REFUND_AGE,
            amount: Some(amount),
            refund_desc,
        };
        let refund = match session.ledger.approve_application(app.id, &approval).await {
            Ok(refund) => refund,
            Err(ledger::Error::Conflict(_) | ledger::Error::InvalidTransition(_)) => {
                let app = self.application(&session, application_id).await?;
                return Err(already_decided(&app));
            }
            Err(ledger::Error::NotRefundable { reason, .. }) => {
                return Err(CoreError::RefundGuard(Msg::new(
                    format!("退款被拦下：{}", guard_reason_zh(reason)),
                    format!("The refund was blocked: {reason}."),
                )))
            }
            Err(e) => return Err(e.into()),
        };
        self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![refund.out_refund_no.as_str().to_string()] });
        // Asks WeChat first only if another desk's round already made an attempt meanwhile.
        self.send_and_audit(&session, &refund, true).await;
        let refund = session.ledger.refund(refund.id).await?;
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
        self.refund_view(&session, &refund).await
    }

    /// Sends once (this process never sends the same refund twice at once), audits the attempt, emits the change.
    async fn send_and_audit(&self, session: &Session, refund: &Refund, ask_first: bool) -> Option<Sent> {
        let _one_at_a_time = self.inner_ref().refund_lock.lock().await;
        // Another desk (or the background round) may have moved it meanwhile.
        let refund = match session.ledger.refund(refund.id).await {
            Ok(r) if r.status == ledger::RefundState::Created => r,
            _ => return None,
        };
        let outcome =
            refunds::send(session, &refund, ask_first, &session.actor, self.options().refund_min_interval).await;
        let (result, what) = match &outcome {
            Ok(Sent::Accepted) => (AuditResult::Ok, "accepted".to_string()),
            Ok(Sent::AlreadyAtWeChat) => (AuditResult::Ok, "already at WeChat".to_string()),
            Ok(Sent::TooSoon) => {
                (AuditResult::Refused, "not sent: a request for this order less than a minute ago".into())
            }
            Ok(Sent::Failed(code)) => (AuditResult::Failed, code.clone()),
            // Nothing was sent: not an attempt to audit.
            Ok(Sent::Moved) => return outcome.ok(),
            Err(e) => (AuditResult::Failed, e.code().to_string()),
        };
        let detail = serde_json::json!({
            "out_refund_no": refund.out_refund_no.as_str(),
            "amount_fen": refund.amount.get(),
            "attempt": refund.attempts.saturating_add(1),
            "outcome": what,
        })
        .to_string();
        let action = if refund.attempts == 0 { "refund.send" } else { "refund.resend" };
        self.audit(session, action, format!("refund:{}", refund.out_refund_no), result, detail).await;
        self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![refund.out_refund_no.as_str().to_string()] });
        outcome.ok()
    }

    /// `refund_reject`: the reason is required and kept.
    pub async fn refund_reject(&self, application_id: i64, reason: &str) -> CoreResult<ApplicationRow> {
        let session = self.owner_session().await?;
        self.touch();
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
            return Err(CoreError::invalid(
                format!("请写明拒绝的原因（最多 {REASON_MAX_CHARS} 个字符）。"),
                format!("Say why the application is rejected (at most {REASON_MAX_CHARS} characters)."),
            ));
        }
        let app = self.application(&session, application_id).await?;
        if app.status != ApplicationStatus::Pending {
            return Err(already_decided(&app));
        }
        let app = match session.ledger.reject_application(app.id, &session.actor, Some(reason), Utc::now()).await {
            Ok(app) => app,
            Err(ledger::Error::Conflict(_) | ledger::Error::InvalidTransition(_)) => {
                let app = self.application(&session, application_id).await?;
                return Err(already_decided(&app));
            }
            Err(e) => return Err(e.into()),
        };
        let order = session.ledger.order(app.order_id).await?;
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
        refunds::application_row(&session, &app, Utc::now()).await
    }

    // ---- Refunds -----------------------------------------------------------------------------------------------

    /// `refunds_list`: `active` (not final, or waiting for the owner) or `all` (newest 200).
    pub async fn refunds_list(&self, scope: &str) -> CoreResult<Vec<RefundView>> {
        let session = self.session().await?;
        let list = match scope {
            "active" => session.ledger.refunds_to_watch(LIST_LIMIT).await?,
            "all" => session.ledger.recent_refunds(LIST_LIMIT).await?,
            other => {
                return Err(CoreError::invalid(
                    format!("未知的范围 {other}（应为 active 或 all）。"),
                    format!("Unknown scope {other} (active or all)."),
                ))
            }
        };
        let mut views = Vec::with_capacity(list.len());
        for r in list.iter().filter(|r| r.merchant_id == session.merchant_id) {
            views.push(self.refund_view(&session, r).await?);
        }
        Ok(views)
    }

    /// `refund_detail`.
    pub async fn refund_detail(&self, out_refund_no: &str) -> CoreResult<RefundView> {
        let session = self.session().await?;
        let refund = self.refund_by_no(&session, out_refund_no).await?;
        self.refund_view(&session, &refund).await
    }

    /// `refund_query_now`: refundquery now; what WeChat says is recorded.
    pub async fn refund_query_now(&self, out_refund_no: &str) -> CoreResult<RefundView> {
        let session = self.session().await?;
        self.touch();
        let refund = self.refund_by_no(&session, out_refund_no).await?;
        let before = refund.status;
        {
            let _one_at_a_time = self.inner_ref().refund_lock.lock().await;
            refunds::query(&session, &refund, &session.actor).await?;
        }
        let after = session.ledger.refund(refund.id).await?;
        if after.status != before {
            self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![out_refund_no.to_string()] });
            let order = session.ledger.order(after.order_id).await?;
            self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
        }
        self.refund_view(&session, &after).await
    }

    /// `refund_retry`: the owner sends a waiting refund again (NOTENOUGH after topping up, retries used up):
    /// the same out_refund_no and amount. WeChat is asked first whether an earlier attempt arrived.
    pub async fn refund_retry(&self, out_refund_no: &str, password: Option<&str>) -> CoreResult<RefundView> {
        let session = self.owner_session().await?;
        self.touch();
        let refund = self.refund_by_no(&session, out_refund_no).await?;
        if refund.status != ledger::RefundState::Created {
            return Err(CoreError::invalid(
                format!("退款单 {out_refund_no} 的状态是 {}，不需要重试。", refund.status),
                format!("Refund {out_refund_no} is {}; there is nothing to retry.", refund.status),
            ));
        }
        self.password_gate(&session, refund.amount, password, &format!("refund:{out_refund_no}")).await?;
        let refund = session.ledger.request_refund_retry(refund.id, &session.actor, Utc::now()).await?;
        self.send_and_audit(&session, &refund, true).await;
        let after = session.ledger.refund(refund.id).await?;
        let order = session.ledger.order(after.order_id).await?;
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
        self.refund_view(&session, &after).await
    }

    /// `refund_mark_done`: the owner refunded the customer outside WeChat Pay (FAILED refunds only).
    pub async fn refund_mark_done(&self, out_refund_no: &str, note: &str) -> CoreResult<RefundView> {
        let session = self.owner_session().await?;
        self.touch();
        let refund = self.refund_by_no(&session, out_refund_no).await?;
        if note.trim().is_empty() {
            return Err(CoreError::invalid(
                "请写明是怎样退给顾客的（例如：现金、银行转账）。",
                "Say how the customer was refunded (for example: cash, bank transfer).",
            ));
        }
        if refund.status != ledger::RefundState::Failed || refund.resolved_at.is_some() {
            return Err(CoreError::invalid(
                format!("只有被微信拒绝（FAILED）且尚未处理的退款可以标记为已处理；退款单 {out_refund_no} 是 {}。", refund.status),
                format!("Only a refund WeChat refused (FAILED) and not yet handled can be marked done; {out_refund_no} is {}.", refund.status),
            ));
        }
        let refund = session.ledger.mark_refund_resolved(refund.id, &session.actor, note, Utc::now()).await?;
        self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![out_refund_no.to_string()] });
        self.refund_view(&session, &refund).await
    }

    /// One refund round: CREATED refunds that are due are (re)sent, PROCESSING / CHANGE ones asked about. Runs
    /// after each sync round in the background; the CLI's `refund sync`. Only the owner's desk sends.
    pub async fn refund_round(&self) -> CoreResult<Vec<RefundChecked>> {
        let session = self.session().await?;
        if session.role != Role::Owner {
            return Ok(Vec::new());
        }
        let _one_at_a_time = self.inner_ref().refund_lock.lock().await;
        let done = refunds::round(
            &session,
            self.options().sync_batch,
            &session.actor,
            self.locale(),
            self.options().refund_min_interval,
        )
        .await?;
        drop(_one_at_a_time);
        for step in done.iter().filter(|s| s.outcome != "skipped") {
            if step.outcome.starts_with("failed") || step.outcome == "accepted" || step.outcome == "already_at_wechat" {
                let result = if step.outcome.starts_with("failed") { AuditResult::Failed } else { AuditResult::Ok };
                let detail = serde_json::json!({ "out_refund_no": step.out_refund_no, "outcome": step.outcome, "automatic": true })
                    .to_string();
                self.audit(&session, "refund.resend", format!("refund:{}", step.out_refund_no), result, detail).await;
            }
        }
        let changed: Vec<String> = done
            .iter()
            .filter(|s| s.status_before != s.status_after || s.outcome.starts_with("failed"))
            .map(|s| s.out_refund_no.clone())
            .collect();
        if !changed.is_empty() {
            self.emit(CoreEvent::RefundsChanged { out_refund_nos: changed });
        }
        Ok(done)
    }

    /// Announces PENDING applications that arrived since the last look (`applications-new`). The first look after
    /// unlocking only remembers where the ledger stands (the queue shows what was already waiting).
    pub async fn look_for_new_applications(&self) -> CoreResult<usize> {
        let session = self.session().await?;
        let seen_file = self.paths().applications_seen_file();
        let last = *lock(&self.inner_ref().last_seen_application);
        let after = match last {
            Some(after) => after,
            // After a restart or an unlock: from where this desk last announced, so applications that arrived
            // while it was closed or locked are announced too; a new desk starts from where the ledger stands.
            None => match std::fs::read_to_string(&seen_file).ok().and_then(|t| t.trim().parse::<i64>().ok()) {
                Some(after) => after,
                None => {
                    let last_id = session.ledger.last_application_id().await?;
                    self.remember_seen_application(last_id);
                    return Ok(0);
                }
            },
        };
        let new = session.ledger.pending_applications_after(after, 50).await?;
        let Some(max_id) = new.iter().map(|a| a.id.0).max() else {
            *lock(&self.inner_ref().last_seen_application) = Some(after);
            return Ok(0);
        };
        self.remember_seen_application(max_id);
        let now = Utc::now();
        let mut rows = Vec::new();
        for app in new.iter().filter(|a| a.merchant_id == session.merchant_id) {
            rows.push(refunds::application_row(&session, app, now).await?);
        }
        let count = rows.len();
        if count > 0 {
            self.emit(CoreEvent::ApplicationsNew { applications: rows });
        }
        Ok(count)
    }

    fn remember_seen_application(&self, id: i64) {
        *lock(&self.inner_ref().last_seen_application) = Some(id);
        if let Err(e) = crate::paths::write_atomic(&self.paths().applications_seen_file(), id.to_string().as_bytes()) {
            tracing::warn!("the last announced application was not saved: {e}");
        }
    }

    // ---- Staff login -------------------------------------------------------------------------------------------

    /// `staff_password_set`: the owner sets (or, with `None`, removes) the staff login. The staff vault holds the
    /// API key and the ledger URL, never the certificate. Audited.
    pub async fn staff_password_set(&self, owner_password: &str, staff_password: Option<&str>) -> CoreResult<()> {
        let session = self.owner_session().await?;
        self.touch();
        let path = self.paths().vault_file();
        let owner = Secret::from(owner_password);
        let contents = tokio::task::spawn_blocking(move || vault::open(&path, owner.expose()))
            .await
            .map_err(|e| CoreError::Internal(format!("vault task: {e}")))??;
        let staff_path = self.paths().staff_vault_file();
        match staff_password {
            Some(p) => {
                vault::check_new_password(p)?;
                if p == owner_password {
                    return Err(CoreError::invalid(
                        "店员密码不能和店主密码相同。",
                        "The staff password must differ from the owner password.",
                    ));
                }
                let staff = VaultContents {
                    api_key: contents.api_key.clone(),
                    certificate: None,
                    ledger_url: contents.ledger_url.clone(),
                };
                let params = self.options().kdf;
                let p = Secret::from(p);
                tokio::task::spawn_blocking(move || vault::create(&staff_path, p.expose(), &staff, params))
                    .await
                    .map_err(|e| CoreError::Internal(format!("vault task: {e}")))??;
            }
            None => match std::fs::remove_file(&staff_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CoreError::io(&staff_path, e)),
            },
        }
        let detail = serde_json::json!({ "staff_login": staff_password.is_some() }).to_string();
        self.audit(&session, "settings.staff_login", "settings".into(), AuditResult::Ok, detail).await;
        Ok(())
    }

    // ---- Audit log ---------------------------------------------------------------------------------------------

    /// `audit_list`: newest first, `before_seq` pages back.
    pub async fn audit_list(&self, before_seq: Option<i64>, limit: u32) -> CoreResult<AuditPage> {
        let session = self.session().await?;
        let limit = limit.clamp(1, LIST_LIMIT);
        let entries = session.ledger.audit_entries_before(before_seq, limit).await?;
        let next_before = if entries.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage { entries: entries.iter().map(audit_row).collect(), next_before })
    }

    /// `audit_verify`: walks the whole chain.
    pub async fn audit_verify(&self) -> CoreResult<ChainView> {
        let session = self.session().await?;
        let report = session.ledger.verify_audit_chain().await?;
        Ok(crate::audit::chain_view(&report, self.locale()))
    }

    /// `audit_export_csv`: the whole log as UTF-8 CSV (with a BOM, for Excel) in the exports folder.
    pub async fn audit_export_csv(&self) -> CoreResult<ExportResult> {
        let session = self.session().await?;
        self.touch();
        let dir = self.options().exports_dir.clone().unwrap_or_else(|| self.paths().exports_dir());
        let result = crate::audit::export_csv(&session.ledger, &dir, Utc::now()).await?;
        let detail = serde_json::json!({ "path": result.path, "rows": result.rows }).to_string();
        self.audit(&session, "audit.export", "audit_log".into(), AuditResult::Ok, detail).await;
        Ok(result)
    }
}

fn audit_row(e: &ledger::AuditEntry) -> AuditRow {
    AuditRow {
        seq: e.seq,
        at: crate::contract::rfc3339(e.at),
        actor: e.actor.clone(),
        action: e.action.clone(),
        subject: e.subject.clone(),
        result: e.result.as_str().to_ascii_lowercase(),
        detail: e.detail.clone(),
    }
}

fn already_decided(app: &RefundApplication) -> CoreError {
    let who = app.decided_by.clone().unwrap_or_default();
    let status = app.status.as_str();
    CoreError::invalid(
        format!("退款申请 #{} 已经处理过了（{status}，{who}）。", app.id),
        format!("Refund application #{} was already decided ({status}, by {who}).", app.id),
    )
}

fn guard_reason_zh(reason: &str) -> &'static str {
    match reason {
        "the order is not paid" => "订单未支付。",
        "the amount exceeds what is left to refund" => "金额超过了可退余额（含处理中的退款）。",
        "the order already has 50 refunds" => "这笔订单已有 50 笔退款。",
        "the payment is too old to refund" => "支付已超过一年。",
        _ => "账本拒绝了这笔退款。",
    }
}
