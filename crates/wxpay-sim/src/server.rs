//! The HTTPS server: a TCP listener, the rustls handshake (the client certificate is optional at
//! this point and verified against the simulator's CA when present), then HTTP/1.1 keep-alive
//! connections served by one axum router. What the handshake learned about the client certificate
//! travels with every request of the connection as a [`ConnInfo`] extension, which is how
//! `/secapi/*` and `/pay/downloadfundflow` decide.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::SimConfig;
use crate::pki::{self, Ca, PeerCert};
use crate::sim::Sim;

/// What the TLS layer knows about a connection.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The verified client certificate, when one was presented.
    pub peer: Option<PeerCert>,
    pub remote: Option<SocketAddr>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Other(String),
}

/// A running simulator. Dropping it stops the server (pending notifications stop too).
#[derive(Debug)]
pub struct SimHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT` — the API base URL for clients (no trailing slash).
    pub base_url: String,
    /// The CA certificate clients must trust (PEM) and where it is on disk.
    pub ca_cert_pem: String,
    pub ca_cert_path: PathBuf,
    /// The simulator itself: tests read what happened at "WeChat" through it.
    pub sim: Arc<Sim>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `https://127.0.0.1:PORT/admin`.
    pub fn admin_url(&self) -> String {
        format!("{}/admin", self.base_url)
    }

    /// Issues an API certificate for `mch_id` into `dir` (apiclient_cert.p12 / .pem, apiclient_key.pem).
    pub fn issue_client_cert(&self, mch_id: &str, dir: &Path) -> Result<Vec<PathBuf>, pki::PkiError> {
        let cert = self.sim.ca.issue_client(mch_id, &format!("wxpay-sim 沙箱商户 {mch_id}"), chrono::Utc::now())?;
        cert.write_to(dir, mch_id)
    }

    /// Stops accepting, stops notification retries, writes the snapshot when configured, and waits
    /// for the accept loop to end.
    pub async fn shutdown(mut self) {
        if self.sim.config.snapshot {
            if let Err(e) = crate::snapshot::save(&self.sim) {
                tracing::error!("snapshot not written: {e}");
            }
        }
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop_now(&self) {
        self.sim.shut_down();
        let _ = self.stop.send(true);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Starts the simulator: loads or creates the CA in `<data_dir>/ca`, binds, serves in the
/// background, and returns once it accepts connections.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, SpawnError> {
    config.validate()?;
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| SpawnError::Other(format!("cannot create the data directory {}: {e}", data_dir.display())))?;
    let ca = Ca::load_or_create(&data_dir.join("ca"))?;
    let ca_cert_pem = ca.cert_pem().to_string();
    let ca_cert_path = ca.cert_path().map(Path::to_path_buf).unwrap_or_else(|| data_dir.join("ca").join("ca_cert.pem"));
    let tls = Arc::new(pki::server_tls_config(&ca, &config.hostnames)?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| SpawnError::Listen { addr: config.listen, reason: e.to_string() })?;
    let addr = listener.local_addr().map_err(|e| SpawnError::Other(e.to_string()))?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let base_url = format!("https://{host}:{}", addr.port());
    let sim = Arc::new(Sim::new(config, ca, data_dir).map_err(SpawnError::Other)?);
    if sim.config.snapshot {
        let restored = crate::snapshot::load(&sim).map_err(SpawnError::Other)?;
        if restored > 0 {
            tracing::info!("snapshot: {restored} orders restored");
        }
    }
    let router = crate::wechat::routes().merge(crate::admin::routes(sim.clone())).with_state(sim.clone());
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), router, stop_rx));
    Ok(SimHandle { addr, base_url, ca_cert_pem, ca_cert_path, sim, stop, task: Some(task) })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    // A client certificate from another CA ends here, with the alert rustls sent.
                    tracing::debug!(%remote, "TLS handshake refused: {e}");
                    return;
                }
                Err(_) => return,
            };
            let peer = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| PeerCert::from_der(c));
            let info = ConnInfo { peer, remote: Some(remote) };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(info.clone());
                router.clone().oneshot(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = conn_stop.changed() => {}
            }
        });
    }
}
