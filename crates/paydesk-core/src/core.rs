//! [`Core`]: the object the desktop shell keeps in its state and the CLI builds from the same data directory. One
//! method per command of `docs/ui-contract.md`, returning exactly the contract's shapes; events go out through
//! [`Core::subscribe`] as [`CoreEvent`]s (name + JSON payload) for the shell to forward.
//!
//! Activity and the idle lock: the methods that stand for something the owner did (unlock, setup, settings,
//! password change, the order list, query now, close, sync now) count as activity; reads the UI repeats on its
//! own after events (`app_status`, `settings_get`, `order_detail`, `sync_status`, `dashboard`) do not, so an open
//! dashboard that refreshes after every sync round does not keep the desk unlocked. [`Core::touch`] is there for
//! a shell command that reports webview activity. [`Core::check_idle_lock`] locks once the configured minutes have
//! passed; [`Core::run_background`] calls it on a timer together with the status sync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ledger::{AuditResult, Ledger, NewAuditEntry};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

use crate::config::{ledger_info, validate_settings, AppConfig};
use crate::contract::{
    AppStatus, CertSource, CertificateView, ConnectionTest, Dashboard, LockReason, MerchantInfo, MerchantInput,
    OrderDetail, OrderFilter, OrderPage, SandboxDefaults, Settings, SetupInput, SyncStatus, UserInfo, VaultState,
};
use crate::error::{CoreError, CoreResult, Locale, Msg, UiError};
use crate::orders::{self, CloseOutcome};
use crate::paths::{write_atomic, Paths};
use crate::secret::Secret;
use crate::session::{self, Role, Session};
use crate::setup::{self, Endpoint, FoundSandbox, SandboxLocator};
use crate::sync::{self, InFlight, SyncReport};
use crate::vault::{self, KdfParams, VaultContents};

/// How a [`Core`] is set up. `Default` is what the desktop app uses.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// The language of messages before setup (afterwards the owner's setting wins).
    pub locale: Locale,
    /// Argon2id cost for new vault files.
    pub kdf: KdfParams,
    /// Where to look for a local wxpay-sim (defaults from `PAYDESK_SANDBOX_*`).
    pub sandbox: SandboxLocator,
    /// TCP + TLS connection timeout for calls to WeChat Pay.
    pub connect_timeout: Duration,
    /// Whole-call timeout.
    pub timeout: Duration,
    /// Orders checked per sync round at most.
    pub sync_batch: u32,
    /// Orders listed as watched in `SyncStatus` at most.
    pub watched_limit: u32,
    /// Where CSV exports are written (the shell passes the OS's Downloads folder); `None`: `exports/` in the data
    /// directory.
    pub exports_dir: Option<std::path::PathBuf>,
    /// At most one refund request per order in this time (WeChat: one a minute). Tests shorten it.
    pub refund_min_interval: chrono::Duration,
    /// The daily close's carry-over window in days: an item paid here but missing from the day's bill is looked
    /// for in the neighbouring days' bills and waits for them before it counts (default 1).
    pub carry_over_days: u32,
}

impl Default for CoreOptions {
    fn default() -> Self {
        CoreOptions {
            locale: Locale::ZhCn,
            kdf: KdfParams::default(),
            sandbox: SandboxLocator::from_env(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            sync_batch: 50,
            watched_limit: 200,
            exports_dir: None,
            refund_min_interval: crate::refunds::MIN_REQUEST_INTERVAL,
            carry_over_days: 1,
        }
    }
}

/// What the shell forwards to the webview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreEvent {
    /// `orders-changed`: these orders changed (refresh lists, the open drawer).
    OrdersChanged { out_trade_nos: Vec<String> },
    /// `sync-status`: after each sync round.
    SyncStatus(SyncStatus),
    /// `vault-locked`: go to the unlock screen.
    VaultLocked { reason: LockReason },
    /// `refunds-changed`: these refunds changed (refresh the refund lists and the open order).
    RefundsChanged { out_refund_nos: Vec<String> },
    /// `applications-new`: PENDING applications that arrived since the desk last looked.
    ApplicationsNew { applications: Vec<crate::contract::ApplicationRow> },
    /// `close-progress`: a bill download, import or reconciliation under way.
    CloseProgress(crate::close::CloseProgress),
}

impl CoreEvent {
    /// The event name of the contract.
    pub fn name(&self) -> &'static str {
        match self {
            CoreEvent::OrdersChanged { .. } => "orders-changed",
            CoreEvent::SyncStatus(_) => "sync-status",
            CoreEvent::VaultLocked { .. } => "vault-locked",
            CoreEvent::RefundsChanged { .. } => "refunds-changed",
            CoreEvent::ApplicationsNew { .. } => "applications-new",
            CoreEvent::CloseProgress(_) => "close-progress",
        }
    }

    /// The payload, as the contract shapes it.
    pub fn payload(&self) -> serde_json::Value {
        match self {
            CoreEvent::OrdersChanged { out_trade_nos } => serde_json::json!({ "out_trade_nos": out_trade_nos }),
            CoreEvent::SyncStatus(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
            CoreEvent::VaultLocked { reason } => serde_json::json!({ "reason": reason }),
            CoreEvent::RefundsChanged { out_refund_nos } => serde_json::json!({ "out_refund_nos": out_refund_nos }),
            CoreEvent::ApplicationsNew { applications } => serde_json::json!({ "applications": applications }),
            CoreEvent::CloseProgress(p) => serde_json::to_value(p).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Timers of [`Core::run_background`].
#[derive(Debug, Clone, Copy)]
pub struct BackgroundOptions {
    /// How often a sync round runs while unlocked (and once right after each unlock).
    pub sync_every: Duration,
    /// How often the idle lock is checked.
    pub idle_check_every: Duration,
    /// How often the ledger is looked at for new refund applications (they arrive through the receiver).
    pub applications_every: Duration,
}

impl Default for BackgroundOptions {
    fn default() -> Self {
        BackgroundOptions {
            sync_every: Duration::from_secs(60),
            idle_check_every: Duration::from_secs(15),
            applications_every: Duration::from_secs(5),
        }
    }
}

/// The background task started by [`Core::spawn_background`]; stopped by [`BackgroundTask::stop`] or on drop.
#[derive(Debug)]
pub struct BackgroundTask {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl BackgroundTask {
    /// Stops after the round in progress (if any) and waits for the task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SyncState {
    last_sync_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    paths: Paths,
    options: CoreOptions,
    config: RwLock<Option<AppConfig>>,
    session: tokio::sync::RwLock<Option<Arc<Session>>>,
    last_activity: Mutex<Instant>,
    events: broadcast::Sender<CoreEvent>,
    round_lock: tokio::sync::Mutex<()>,
    running: AtomicBool,
    last_sync_at: Mutex<Option<DateTime<Utc>>>,
    in_flight: InFlight,
    sandbox: Mutex<Option<FoundSandbox>>,
    unlocked: Notify,
    /// The highest refund application id the desk has announced (`None` until the first look after unlock).
    pub(crate) last_seen_application: Mutex<Option<i64>>,
    /// One refund round at a time, and never a refund sent twice at once by this process.
    pub(crate) refund_lock: tokio::sync::Mutex<()>,
}

/// The app: cheap to clone (an `Arc` inside), safe to share between commands and the background task.
#[derive(Debug, Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Core {
    /// Opens the app over `data_dir` (nothing is created until setup). Reads `config.json` when present.
    pub fn open(data_dir: impl Into<std::path::PathBuf>, options: CoreOptions) -> CoreResult<Core> {
        let paths = Paths::new(data_dir);
        let config = AppConfig::load(&paths)?;
        let last_sync_at = std::fs::read(paths.sync_state_file())
            .ok()
            .and_then(|b| serde_json::from_slice::<SyncState>(&b).ok())
            .and_then(|s| s.last_sync_at);
        let (events, _) = broadcast::channel(256);
        Ok(Core {
            inner: Arc::new(Inner {
                paths,
                options,
                config: RwLock::new(config),
                session: tokio::sync::RwLock::new(None),
                last_activity: Mutex::new(Instant::now()),
                events,
                round_lock: tokio::sync::Mutex::new(()),
                running: AtomicBool::new(false),
                last_sync_at: Mutex::new(last_sync_at),
                in_flight: InFlight::default(),
                sandbox: Mutex::new(None),
                unlocked: Notify::new(),
                last_seen_application: Mutex::new(None),
                refund_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The data directory's files.
    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    /// Events for the shell to forward (`orders-changed`, `sync-status`, `vault-locked`).
    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        // No subscriber (the CLI) is fine.
        let _ = self.inner.events.send(event);
    }

    /// The language of messages: the owner's setting, or the start-up locale before setup.
    pub fn locale(&self) -> Locale {
        self.config().map_or(self.inner.options.locale, |c| c.settings.locale)
    }

    /// `{ code, message }` for a rejected command, in the current locale.
    pub fn ui_error(&self, e: &CoreError) -> UiError {
        e.to_ui(self.locale())
    }

    pub(crate) fn config(&self) -> Option<AppConfig> {
        self.inner.config.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set_config(&self, config: AppConfig) {
        *self.inner.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(config);
    }

    pub(crate) fn inner_ref(&self) -> &Inner {
        &self.inner
    }

    pub(crate) fn options(&self) -> &CoreOptions {
        &self.inner.options
    }

    fn timeouts(&self) -> (Duration, Duration) {
        (self.inner.options.connect_timeout, self.inner.options.timeout)
    }

    pub(crate) async fn session(&self) -> CoreResult<Arc<Session>> {
        self.inner.session.read().await.clone().ok_or(CoreError::VaultLocked)
    }

    /// The session, for commands only the owner may run (`forbidden` for the staff login).
    pub(crate) async fn owner_session(&self) -> CoreResult<Arc<Session>> {
        let session = self.session().await?;
        if session.role != Role::Owner {
            return Err(CoreError::Forbidden);
        }
        Ok(session)
    }

    /// Records owner activity (resets the idle timer).
    pub fn touch(&self) {
        *lock(&self.inner.last_activity) = Instant::now();
    }

    async fn vault_state(&self) -> VaultState {
        if self.config().is_none() || !vault::exists(&self.inner.paths.vault_file()) {
            VaultState::Absent
        } else if self.inner.session.read().await.is_some() {
            VaultState::Unlocked
        } else {
            VaultState::Locked
        }
    }

    pub(crate) async fn audit(
        &self,
        session: &Session,
        action: &str,
        subject: String,
        result: AuditResult,
        detail: String,
    ) {
        let entry = NewAuditEntry {
            actor: session.actor.clone(),
            action: action.into(),
            subject,
            result,
            detail,
            at: Utc::now(),
        };
        if let Err(e) = session.ledger.append_audit(&entry).await {
            tracing::error!(action, "audit entry not written: {e}");
        }
    }

    // ---- App state and vault -----------------------------------------------------------------------------------

    /// `app_status`.
    pub async fn app_status(&self) -> AppStatus {
        let vault = self.vault_state().await;
        let config = self.config().filter(|_| vault != VaultState::Absent);
        let locale = self.locale();
        let certificate = config.as_ref().and_then(|c| certificate_view(c, locale));
        AppStatus {
            vault,
            merchant: config.as_ref().map(|c| MerchantInfo {
                appid: c.merchant.appid.clone(),
                mch_id: c.merchant.mch_id.clone(),
                sign_type: c.merchant.sign_type,
                sandbox: c.sandbox.is_some(),
            }),
            ledger: config.as_ref().map(|c| c.ledger.clone()),
            certificate,
            user: match (config.as_ref(), self.inner.session.read().await.as_ref()) {
                (Some(c), Some(s)) if vault == VaultState::Unlocked => {
                    Some(UserInfo { name: c.owner_name.clone(), role: s.role.as_str().into() })
                }
                _ => None,
            },
            staff_login: vault::exists(&self.inner.paths.staff_vault_file()),
        }
    }

    /// `vault_unlock`: a wrong password is `wrong_password` and changes nothing.
    pub async fn vault_unlock(&self, password: &str) -> CoreResult<AppStatus> {
        let config = self.config().ok_or(CoreError::NotConfigured)?;
        let path = self.inner.paths.vault_file();
        if !vault::exists(&path) {
            return Err(CoreError::NotConfigured);
        }
        let password = Secret::from(password);
        let staff_path = self.inner.paths.staff_vault_file();
        // The owner's vault first; the staff vault only when the password does not open it.
        let (contents, role) = tokio::task::spawn_blocking(move || match vault::open(&path, password.expose()) {
            Err(CoreError::WrongPassword) if vault::exists(&staff_path) => {
                vault::open(&staff_path, password.expose()).map(|c| (c, Role::Staff))
            }
            other => other.map(|c| (c, Role::Owner)),
        })
        .await
        .map_err(|e| CoreError::Internal(format!("vault task: {e}")))??;
        let session = Arc::new(session::open(&config, &contents, self.timeouts(), role).await?);
        self.audit(
            &session,
            "vault.unlock",
            format!("merchant:{}", config.merchant.mch_id),
            AuditResult::Ok,
            "{}".into(),
        )
        .await;
        *self.inner.session.write().await = Some(session);
        self.touch();
        self.inner.unlocked.notify_waiters();
        Ok(self.app_status().await)
    }

    async fn lock_now(&self, reason: LockReason) -> bool {
        let was = self.inner.session.write().await.take();
        *lock(&self.inner.last_seen_application) = None;
        if was.is_some() {
            self.emit(CoreEvent::VaultLocked { reason });
        }
        was.is_some()
    }

    /// `vault_lock`: forgets the secrets; emits `vault-locked {reason: 'user'}`.
    pub async fn vault_lock(&self) -> AppStatus {
        self.lock_now(LockReason::User).await;
        self.app_status().await
    }

    /// `vault_change_password`: re-encrypts the vault under the new password (atomic). A wrong old password is
    /// `wrong_password` and changes nothing.
    pub async fn vault_change_password(&self, old_password: &str, new_password: &str) -> CoreResult<()> {
        if self.session().await.is_ok_and(|s| s.role == Role::Staff) {
            return Err(CoreError::Forbidden);
        }
        vault::check_new_password(new_password)?;
        if self.config().is_none() {
            return Err(CoreError::NotConfigured);
        }
        let path = self.inner.paths.vault_file();
        let (old, new) = (Secret::from(old_password), Secret::from(new_password));
        let params = self.inner.options.kdf;
        tokio::task::spawn_blocking(move || vault::change_password(&path, old.expose(), new.expose(), params))
            .await
            .map_err(|e| CoreError::Internal(format!("vault task: {e}")))??;
        self.touch();
        if let Ok(session) = self.session().await {
            self.audit(&session, "vault.change_password", "vault".into(), AuditResult::Ok, "{}".into()).await;
        }
        Ok(())
    }

    /// `settings_get` (unlocked only).
    pub async fn settings_get(&self) -> CoreResult<Settings> {
        self.session().await?;
        self.config().map(|c| c.settings).ok_or(CoreError::NotConfigured)
    }

    /// `settings_update` (unlocked only; audited). The refund threshold is also kept with the merchant in the ledger.
    pub async fn settings_update(&self, settings: Settings) -> CoreResult<Settings> {
        let session = self.owner_session().await?;
        validate_settings(&settings)?;
        let mut config = self.config().ok_or(CoreError::NotConfigured)?;
        let before = config.settings;
        config.settings = settings;
        config.save(&self.inner.paths)?;
        self.set_config(config.clone());
        self.touch();
        if before.refund_password_threshold_fen != settings.refund_password_threshold_fen {
            session.ledger.upsert_merchant(&session::merchant_settings(&config)?, &session.actor, Utc::now()).await?;
        }
        let detail = serde_json::json!({ "before": before, "after": settings }).to_string();
        self.audit(&session, "settings.update", "settings".into(), AuditResult::Ok, detail).await;
        Ok(settings)
    }

    // ---- Setup wizard ------------------------------------------------------------------------------------------

    /// `setup_sandbox_defaults`: the running local wxpay-sim's URL, CA, merchant, key and `.p12` (`not_found` when
    /// none runs). Remembered for `setup_test_connection` / `setup_complete` with `sandbox: true`.
    pub async fn setup_sandbox_defaults(&self) -> CoreResult<SandboxDefaults> {
        let found = setup::discover_sandbox(&self.inner.options.sandbox, self.timeouts()).await?;
        let defaults = found.defaults.clone();
        *lock(&self.inner.sandbox) = Some(found);
        Ok(defaults)
    }

    async fn sandbox_endpoint(&self) -> CoreResult<crate::config::SandboxEndpoint> {
        let known = lock(&self.inner.sandbox).clone();
        match known {
            Some(found) => Ok(found.endpoint),
            None => {
                self.setup_sandbox_defaults().await?;
                lock(&self.inner.sandbox)
                    .as_ref()
                    .map(|f| f.endpoint.clone())
                    .ok_or_else(|| CoreError::Internal("sandbox not remembered".into()))
            }
        }
    }

    /// `setup_inspect_certificate`: subject, serial, validity and warnings (`key_mismatch`, `expired`,
    /// `expires_soon`, `not_yet_valid`, `mch_id_not_in_subject`).
    pub fn setup_inspect_certificate(&self, source: &CertSource, mch_id: &str) -> CoreResult<CertificateView> {
        setup::inspect_certificate(source, mch_id, Utc::now(), self.locale())
    }

    /// `setup_test_connection`.
    pub async fn setup_test_connection(
        &self,
        merchant: &MerchantInput,
        api_key: &str,
        source: Option<&CertSource>,
        sandbox: bool,
    ) -> CoreResult<ConnectionTest> {
        let locale = self.locale();
        let m = setup::merchant(merchant, api_key)?;
        let loaded = match source.map(|s| setup::load_certificate(s, &merchant.mch_id)).transpose() {
            Ok(loaded) => loaded,
            Err(e) => {
                return Ok(ConnectionTest { ok: false, code: "certificate", message: e.message(locale), elapsed_ms: 0 })
            }
        };
        let endpoint = if sandbox { Endpoint::sandbox(&self.sandbox_endpoint().await?)? } else { Endpoint::wechat() };
        Ok(setup::test_connection(&m, loaded.as_ref(), &endpoint, self.timeouts(), locale).await)
    }

    /// `setup_complete`: writes the ledger's merchant row and an audit entry, the vault and the config, and
    /// leaves the desk unlocked.
    pub async fn setup_complete(&self, input: SetupInput) -> CoreResult<AppStatus> {
        if self.config().is_some() && vault::exists(&self.inner.paths.vault_file()) {
            return Err(CoreError::invalid(
                "已经设置过了：如需重新设置，请先删除数据目录中的 config.json 和 vault.json。",
                "Paydesk is already set up: to start over, remove config.json and vault.json from the data folder first.",
            ));
        }
        let merchant = setup::merchant(&input.merchant, input.api_key.expose())?;
        let owner_name = input.owner_name.trim().to_string();
        if owner_name.is_empty() || owner_name.chars().count() > 64 {
            return Err(CoreError::invalid(
                "请填写店主姓名（最多 64 个字符）。",
                "Enter the owner's name (at most 64 characters).",
            ));
        }
        vault::check_new_password(input.owner_password.expose())?;
        let now = Utc::now();
        let certificate = match &input.source {
            Some(source) => {
                let loaded = setup::load_certificate(source, merchant.mch_id.as_str())?;
                if loaded.key_mismatch {
                    return Err(CoreError::Certificate(wxpay::client::IdentityError::KeyMismatch {
                        subject: loaded.info.subject.clone(),
                        serial_hex: loaded.info.serial_hex.clone(),
                    }));
                }
                loaded.info.check_validity(now)?;
                Some(loaded)
            }
            None => None,
        };
        let sandbox = if input.sandbox { Some(self.sandbox_endpoint().await?) } else { None };
        let ledger_url = match &input.ledger_url {
            Some(url) if !url.expose().trim().is_empty() => url.expose().trim().to_string(),
            _ => self.inner.paths.default_ledger_url(),
        };
        let ledger = ledger_info(&ledger_url)?;
        self.inner.paths.ensure_dir()?;

        let config = AppConfig::new(
            input.merchant.clone(),
            sandbox.clone(),
            ledger.clone(),
            owner_name.clone(),
            certificate
                .as_ref()
                .map(|c| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &c.leaf_der)),
            Settings { locale: self.locale(), ..Settings::default() },
        );
        let actor = format!("desk:{owner_name}");
        let db = Ledger::open(&ledger_url).await?;
        db.upsert_merchant(&session::merchant_settings(&config)?, &actor, now).await?;
        let detail = serde_json::json!({
            "appid": config.merchant.appid,
            "mch_id": config.merchant.mch_id,
            "sign_type": config.merchant.sign_type,
            "sandbox": sandbox.as_ref().map(|s| &s.base_url),
            "ledger": ledger,
            "certificate_serial": certificate.as_ref().map(|c| &c.info.serial_hex),
        })
        .to_string();
        db.append_audit(&NewAuditEntry {
            actor: actor.clone(),
            action: "setup.complete".into(),
            subject: format!("merchant:{}", config.merchant.mch_id),
            result: AuditResult::Ok,
            detail,
            at: now,
        })
        .await?;
        db.close().await;

        let contents = VaultContents {
            api_key: input.api_key.expose().clone(),
            certificate: certificate.as_ref().map(|c| c.stored.clone()),
            ledger_url,
        };
        let path = self.inner.paths.vault_file();
        let password = input.owner_password.clone();
        let params = self.inner.options.kdf;
        let to_vault = contents.clone();
        tokio::task::spawn_blocking(move || vault::create(&path, password.expose(), &to_vault, params))
            .await
            .map_err(|e| CoreError::Internal(format!("vault task: {e}")))??;
        config.save(&self.inner.paths)?;
        self.set_config(config.clone());

        let session = Arc::new(session::open(&config, &contents, self.timeouts(), Role::Owner).await?);
        *self.inner.session.write().await = Some(session);
        self.touch();
        self.inner.unlocked.notify_waiters();
        Ok(self.app_status().await)
    }

    // ---- Orders ------------------------------------------------------------------------------------------------

    /// `orders_list`.
    pub async fn orders_list(&self, filter: &OrderFilter, cursor: Option<&str>, limit: u32) -> CoreResult<OrderPage> {
        let session = self.session().await?;
        self.touch();
        orders::list(&session, filter, cursor, limit).await
    }

    /// `order_detail`.
    pub async fn order_detail(&self, out_trade_no: &str) -> CoreResult<OrderDetail> {
        let session = self.session().await?;
        let order = orders::find(&session, out_trade_no).await?;
        orders::detail(&session, &order, self.locale()).await
    }

    async fn hold(
        &self,
        session: &Session,
        out_trade_no: &str,
    ) -> CoreResult<(ledger::Order, sync::InFlightGuard<'_>)> {
        let order = orders::find(session, out_trade_no).await?;
        let guard = self.inner.in_flight.take(order.id, Duration::from_secs(30)).await.ok_or_else(|| {
            CoreError::invalid(
                "这笔订单正在查询中，请稍后再试。",
                "This order is being queried right now; try again in a moment.",
            )
        })?;
        // Re-read: the query we waited for may have changed it.
        let order = session.ledger.order(order.id).await?;
        Ok((order, guard))
    }

    /// `order_query_now`: asks WeChat, records what it learned (source `query`, the raw reply as evidence).
    pub async fn order_query_now(&self, out_trade_no: &str) -> CoreResult<OrderDetail> {
        let session = self.session().await?;
        self.touch();
        let (order, _guard) = self.hold(&session, out_trade_no).await?;
        let locale = self.locale();
        let (entry, result) = sync::check_and_schedule(&session, &order, &session.actor, locale).await;
        if entry.outcome == "changed" {
            self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![entry.out_trade_no.clone()] });
        }
        match result? {
            orders::Checked::NotAtWeChat => Err(CoreError::Refused(Msg::new(
                format!("微信支付没有订单 {out_trade_no}（ORDERNOTEXIST）：它可能从未下单成功。"),
                format!("WeChat Pay has no order {out_trade_no} (ORDERNOTEXIST): it may never have been placed there."),
            ))),
            _ => {
                let order = session.ledger.order(order.id).await?;
                orders::detail(&session, &order, locale).await
            }
        }
    }

    /// `order_close`: NOTPAY only (`invalid_input` otherwise); closeorder, then a query records the outcome.
    pub async fn order_close(&self, out_trade_no: &str) -> CoreResult<OrderDetail> {
        let session = self.owner_session().await?;
        self.touch();
        let (order, _guard) = self.hold(&session, out_trade_no).await?;
        let locale = self.locale();
        let subject = format!("order:{out_trade_no}");
        let outcome = orders::close(&session, &order, &session.actor).await;
        let (result, detail) = match &outcome {
            Ok(CloseOutcome::AtWeChat) => (AuditResult::Ok, "closed"),
            Ok(CloseOutcome::Locally) => (AuditResult::Ok, "closed here: WeChat Pay has no such order"),
            Ok(CloseOutcome::PaidMeanwhile) => (AuditResult::Refused, "paid before the close"),
            Err(CoreError::InvalidInput(_)) => (AuditResult::Refused, "not NOTPAY"),
            Err(_) => (AuditResult::Failed, "failed"),
        };
        self.audit(&session, "order.close", subject, result, serde_json::json!({ "outcome": detail }).to_string())
            .await;
        let after = session.ledger.order(order.id).await?;
        if after.trade_state != order.trade_state {
            let next = sync::next_check_at(after.placed_at, &after.trade_state, Utc::now());
            session.ledger.schedule_order_check(after.id, next).await?;
            self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![out_trade_no.to_string()] });
        }
        match outcome? {
            CloseOutcome::PaidMeanwhile => Err(CoreError::Refused(Msg::new(
                "顾客在关单之前已经付款：订单没有关闭，已记录为已支付。",
                "The customer paid before the close: the order was not closed and is recorded as paid.",
            ))),
            CloseOutcome::AtWeChat | CloseOutcome::Locally => {
                let order = session.ledger.order(order.id).await?;
                orders::detail(&session, &order, locale).await
            }
        }
    }

    // ---- Status sync and dashboard -------------------------------------------------------------------------------

    fn last_sync_at(&self) -> Option<DateTime<Utc>> {
        *lock(&self.inner.last_sync_at)
    }

    /// `sync_status`.
    pub async fn sync_status(&self) -> CoreResult<SyncStatus> {
        let session = self.session().await?;
        let running = self.inner.running.load(Ordering::SeqCst);
        sync::status(&session, running, self.last_sync_at(), self.inner.options.watched_limit).await
    }

    /// One sync round (waits for a round already running to finish first); emits `sync-status` and, when states
    /// changed, `orders-changed`. The CLI's `sync`.
    pub async fn sync_round(&self) -> CoreResult<SyncReport> {
        let session = self.session().await?;
        let _round = self.inner.round_lock.lock().await;
        self.inner.running.store(true, Ordering::SeqCst);
        let report = sync::round(&session, &self.inner.in_flight, self.inner.options.sync_batch, self.locale()).await;
        self.inner.running.store(false, Ordering::SeqCst);
        let report = report?;
        let now = Utc::now();
        *lock(&self.inner.last_sync_at) = Some(now);
        if let Ok(bytes) = serde_json::to_vec(&SyncState { last_sync_at: Some(now) }) {
            if let Err(e) = write_atomic(&self.inner.paths.sync_state_file(), &bytes) {
                tracing::warn!("sync state not saved: {e}");
            }
        }
        let changed = report.changed_orders();
        if !changed.is_empty() {
            self.emit(CoreEvent::OrdersChanged { out_trade_nos: changed });
        }
        if let Ok(status) = sync::status(&session, false, Some(now), self.inner.options.watched_limit).await {
            self.emit(CoreEvent::SyncStatus(status));
        }
        Ok(report)
    }

    /// `sync_now`: runs a round and resolves after it with the new status.
    pub async fn sync_now(&self) -> CoreResult<SyncStatus> {
        self.touch();
        self.sync_round().await?;
        self.sync_status().await
    }

    /// `dashboard`.
    pub async fn dashboard(&self) -> CoreResult<Dashboard> {
        let session = self.session().await?;
        crate::dashboard::dashboard(&session, Utc::now(), self.last_sync_at()).await
    }

    // ---- Idle lock and the background task ---------------------------------------------------------------------

    /// Locks (emitting `vault-locked {reason: 'idle'}`) when the desk is unlocked and nothing happened for the
    /// configured minutes. Returns whether it locked now.
    pub async fn check_idle_lock(&self) -> bool {
        self.check_idle_lock_at(Instant::now()).await
    }

    /// [`Core::check_idle_lock`] with the clock as an argument.
    pub async fn check_idle_lock_at(&self, now: Instant) -> bool {
        let minutes = self.config().map_or(0, |c| c.settings.idle_lock_minutes);
        if minutes == 0 {
            return false;
        }
        let idle = now.saturating_duration_since(*lock(&self.inner.last_activity));
        if idle < Duration::from_secs(u64::from(minutes) * 60) {
            return false;
        }
        self.lock_now(LockReason::Idle).await
    }

    /// Runs the status sync (every `sync_every` while unlocked, and right after each unlock) and the idle-lock
    /// check until `stop` completes. Spawn it on the shell's runtime; [`Core::spawn_background`] does that on Tokio.
    pub async fn run_background(&self, options: BackgroundOptions, stop: impl std::future::Future<Output = ()>) {
        let mut sync_tick = tokio::time::interval(options.sync_every);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut idle_tick = tokio::time::interval(options.idle_check_every);
        idle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut applications_tick = tokio::time::interval(options.applications_every);
        applications_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            let run = tokio::select! {
                _ = &mut stop => break,
                _ = idle_tick.tick() => {
                    self.check_idle_lock().await;
                    false
                }
                _ = applications_tick.tick() => {
                    if self.inner.session.read().await.is_some() {
                        if let Err(e) = self.look_for_new_applications().await {
                            tracing::warn!("looking for new refund applications failed: {e}");
                        }
                    }
                    false
                }
                _ = sync_tick.tick() => true,
                _ = self.inner.unlocked.notified() => true,
            };
            if run && self.inner.session.read().await.is_some() {
                if let Err(e) = self.sync_round().await {
                    tracing::warn!("sync round failed: {e}");
                }
                if let Err(e) = self.refund_round().await {
                    tracing::warn!("refund round failed: {e}");
                }
            }
        }
    }

    /// Starts [`Core::run_background`] on the current Tokio runtime.
    pub fn spawn_background(&self, options: BackgroundOptions) -> BackgroundTask {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let core = self.clone();
        let handle = tokio::spawn(async move {
            core.run_background(options, async move {
                let _ = stopped.await;
            })
            .await;
        });
        BackgroundTask { stop: Some(stop), handle: Some(handle) }
    }
}

/// The configured API certificate with its warnings now (expiry moves on while the app runs).
fn certificate_view(config: &AppConfig, locale: Locale) -> Option<CertificateView> {
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, config.certificate_der_b64.as_ref()?)
        .ok()?;
    let info = wxpay::client::CertificateInfo::from_der(&der).ok()?;
    Some(setup::certificate_view(&info, &config.merchant.mch_id, false, Utc::now(), locale))
}
