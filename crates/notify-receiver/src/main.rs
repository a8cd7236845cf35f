//! `notify-receiver`: reads the configuration (flags, environment, TOML file), sets up logging, and serves until
//! SIGTERM or Ctrl-C, finishing requests in flight. Everything else is the library (`notify_receiver`).

use anyhow::Context as _;
use clap::Parser as _;
use notify_receiver::config::{Args, Config};

fn main() -> anyhow::Result<()> {
    let config = Config::from_args(Args::parse()).context("reading the configuration")?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).context("--log / NOTIFY_RECEIVER_LOG")?;
    // key=value fields on one line per event: grep-able, and parsed by journald / Loki as they are.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .init();
    tracing::info!(config = ?config, "starting"); // Debug masks the keys, tokens and the database password
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .enable_all()
        .build()
        .context("starting tokio")?;
    runtime.block_on(async move { notify_receiver::serve(config, shutdown_signal()).await.context("notify-receiver") })
}

/// SIGTERM (systemd stop) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
