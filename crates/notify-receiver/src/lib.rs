//! notify-receiver: the companion service that runs wherever the shop has a public URL. It takes WeChat Pay v2's
//! payment and refund notifications and the shop backend's orders and refund applications, and writes them to the
//! ledger the desktop reads (ARCHITECTURE.md §2–3). It needs the merchants' API keys, never the API certificate.
//!
//! - [`config`]: flags, environment variables and the TOML file → [`Config`] (secrets from env or 0600 files).
//! - [`wechat`]: `POST /wxpay/notify`, `/wxpay/notify/pay`, `/wxpay/notify/refund` — verify, store raw, apply once,
//!   acknowledge (wxpay-v2.md §6); and the recovery of stored notifications a crash left unprocessed.
//! - [`writer`]: payments stored and applied in batches (a handful of statements per batch), the SQLite write gate.
//! - [`shop`]: the shop backend's JSON API under `/api/v1` (bearer token).
//! - [`relay`]: the optional forwarding of verified events from the ledger's outbox, HMAC-signed, with backoff.
//! - [`metrics`]: `/metrics` in Prometheus text; [`error`]: the one error type and its HTTP answers.
//!
//! [`app`] builds the router over an [`AppState`]; [`serve`] runs it with the background workers until a shutdown
//! signal, finishing requests in flight. The ledger is the only shared state: several receivers may run against
//! one PostgreSQL, and idempotency comes from the ledger's unique keys.

pub mod config;
pub mod error;
pub mod metrics;
pub mod relay;
pub mod shop;
pub mod wechat;
pub mod writer;

use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use ledger::{Ledger, MerchantId, MerchantSettings, OpenOptions};
use tokio::sync::{watch, MutexGuard, Notify};
use wxpay::MchId;

pub use config::{Config, Merchant, Secret};
pub use error::Error;
pub use metrics::Metrics;

/// A configured merchant and its row in the ledger.
#[derive(Debug, Clone)]
pub struct MerchantEntry {
    pub config: Merchant,
    pub id: MerchantId,
}

/// What every request handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub ledger: Ledger,
    pub merchants: Vec<MerchantEntry>,
    pub shop_token: Secret,
    pub body_limit: usize,
    /// Whether verified events are written to the relay outbox.
    pub relay_enabled: bool,
    /// Wakes the relay worker when an event was written.
    pub relay_wake: Notify,
    pub metrics: Metrics,
    /// Every write of this process takes its turn here on SQLite (see [`writer::Gate`]).
    gate: Arc<writer::Gate>,
    /// Payment notifications are written in batches by this writer.
    pub writer: writer::Writer,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the ledger: {0}")]
    Ledger(#[from] ledger::Error),
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

impl AppState {
    /// Opens (and migrates) the ledger and makes sure every configured merchant has its row. An existing row's
    /// settings are left as they are: the desktop owns them.
    pub async fn open(config: &Config) -> Result<AppState, StartError> {
        // Field by field over the defaults: OpenOptions may grow fields, and this keeps compiling when it does.
        #[allow(clippy::field_reassign_with_default)]
        let options = {
            let mut options = OpenOptions::default();
            options.max_connections = config.db_max_connections;
            options.busy_timeout = config.db_timeout;
            options.acquire_timeout = config.db_timeout;
            options
        };
        let ledger = Ledger::open_with(&config.database_url, &options).await?;
        let mut merchants = Vec::new();
        for m in &config.merchants {
            let id = match ledger.merchant_by_mch_id(&m.mch_id).await? {
                Some(existing) => {
                    if existing.settings.appid != m.appid {
                        tracing::warn!(mch_id = %m.mch_id, ledger_appid = %existing.settings.appid, config_appid = %m.appid,
                            "the ledger knows this merchant with another appid; notifications are checked against the configured one");
                    }
                    existing.id
                }
                None => {
                    let settings = MerchantSettings {
                        mch_id: m.mch_id.clone(),
                        appid: m.appid.clone(),
                        name: m.name.clone(),
                        sign_type: m.sign_type,
                        api_base_url: None,
                        refund_reauth_above: None,
                    };
                    ledger.upsert_merchant(&settings, "notify-receiver", Utc::now()).await?.id
                }
            };
            merchants.push(MerchantEntry { config: m.clone(), id });
        }
        let gate = Arc::new(writer::Gate::new(ledger.engine(), config.db_timeout));
        // SQLite writes take turns anyway: one writer. PostgreSQL: a few, so batches overlap.
        let writers = match ledger.engine() {
            ledger::Engine::Sqlite => 1,
            ledger::Engine::Postgres => 4,
        };
        let writer = writer::Writer::start(ledger.clone(), gate.clone(), writers);
        Ok(AppState(Arc::new(Inner {
            ledger,
            merchants,
            shop_token: config.shop_token.clone(),
            body_limit: config.body_limit,
            relay_enabled: config.relay.is_some(),
            relay_wake: Notify::new(),
            metrics: Metrics::default(),
            gate,
            writer,
        })))
    }

    pub fn merchant(&self, mch_id: &str) -> Option<&MerchantEntry> {
        self.merchants.iter().find(|m| m.config.mch_id.as_str() == mch_id)
    }

    pub fn merchant_by_id(&self, mch_id: &MchId) -> Option<&MerchantEntry> {
        self.merchant(mch_id.as_str())
    }

    /// Takes this process's turn to write (SQLite), waiting at most the database timeout.
    pub async fn write_turn(&self) -> Result<Option<MutexGuard<'_, ()>>, Error> {
        self.gate.turn().await
    }
}

/// The router: WeChat's notification paths, the shop API, `/healthz` and `/metrics`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/orders", post(shop::register_order))
        .route("/api/v1/orders/{out_trade_no}", get(shop::order_status))
        .route("/api/v1/refund-applications", post(shop::register_refund_application))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), shop::require_token));
    Router::new()
        .route("/wxpay/notify", post(wechat::notify_any))
        .route("/wxpay/notify/pay", post(wechat::notify_pay))
        .route("/wxpay/notify/refund", post(wechat::notify_refund))
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `200 ok` when the ledger answers, `503` otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.ledger.merchants().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: ledger unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let backlog = if state.relay_enabled { state.ledger.relay_backlog().await.ok().map(|b| b.pending) } else { None };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(backlog)).into_response()
}

/// A receiver running in this process (tests, embedding): its address and state, and how to stop it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Running {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, stops the workers.
    pub async fn shutdown(self) -> Result<(), StartError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(StartError::Serve(std::io::Error::other(e.to_string()))),
        }
    }
}

/// Opens the ledger, binds `config.listen` (port 0 picks one) and serves in a task.
pub async fn spawn(config: Config) -> Result<Running, StartError> {
    let state = AppState::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let (stop, mut stopped) = watch::channel(false);
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        serve_on(listener, task_state, &config, signal).await
    });
    Ok(Running { addr, state, stop, task })
}

/// Runs the receiver until `shutdown` completes: binds, starts the workers, serves; then stops accepting, gives
/// requests in flight `config.shutdown_grace` to finish, stops the workers and closes the ledger.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let state = AppState::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    serve_on(listener, state, &config, shutdown).await
}

async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    workers.push(tokio::spawn(wechat::recovery_worker(state.clone(), stop_rx.clone())));
    if let Some(relay) = &config.relay {
        workers.push(tokio::spawn(relay::worker(state.clone(), relay.clone(), stop_rx.clone())));
    }
    tracing::info!(%addr, merchants = state.merchants.len(), engine = ?state.ledger.engine(),
        relay = state.relay_enabled, "notify-receiver listening");

    let signalled = stop_tx.clone();
    let server = axum::serve(listener, app(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing requests in flight");
            let _ = signalled.send(true);
        });
    let grace = config.shutdown_grace;
    let mut grace_rx = stop_rx.clone();
    let result = tokio::select! {
        r = server.into_future() => r.map_err(StartError::Serve),
        _ = async {
            let _ = grace_rx.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period; closing");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    state.ledger.close().await;
    tracing::info!("notify-receiver stopped");
    result
}
