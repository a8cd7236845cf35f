//! `wxpay-sim`: runs the simulator (`wxpay-sim [--config FILE] [flags]`, optionally `--demo`) or
//! issues a merchant API certificate (`wxpay-sim cert issue --mch-id N --out DIR`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use wxpay_sim::demo::DemoOptions;
use wxpay_sim::pki::Ca;
use wxpay_sim::{MerchantConfig, SimConfig};

/// An offline WeChat Pay v2 server (HTTPS with its own CA, mutual TLS on /secapi/*).
#[derive(Debug, Parser)]
#[command(name = "wxpay-sim", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    serve: Serve,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct Serve {
    /// TOML config file (see wxpay-sim.sample.toml); flags override it.
    #[arg(long, env = "WXPAY_SIM_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default 127.0.0.1:8443].
    #[arg(long, env = "WXPAY_SIM_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory: CA, issued certificates [default target/wxpay-sim].
    #[arg(long, env = "WXPAY_SIM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A sandbox merchant as MCH_ID:APPID:KEY (repeatable).
    #[arg(long = "merchant", value_name = "MCH_ID:APPID:KEY")]
    merchants: Vec<String>,
    /// Notification retry schedule speed-up (1 = WeChat's real 24 h schedule).
    #[arg(long, env = "WXPAY_SIM_TIME_FACTOR")]
    time_factor: Option<u32>,
    /// Real milliseconds from a refund's acceptance to its settlement.
    #[arg(long, env = "WXPAY_SIM_REFUND_DELAY_MS")]
    refund_delay_ms: Option<u64>,
    /// Start the simulated clock here (RFC 3339 or Beijing "yyyy-MM-dd HH:mm:ss").
    #[arg(long)]
    clock_start: Option<String>,
    /// Bearer token required on /admin/*.
    #[arg(long, env = "WXPAY_SIM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Keep the books in <data-dir>/state.json across restarts (read at start, written at Ctrl-C).
    #[arg(long, env = "WXPAY_SIM_SNAPSHOT")]
    snapshot: bool,
    /// Generate demo traffic (history of yesterday, then live orders).
    #[arg(long)]
    demo: bool,
    /// Demo: the merchant whose shop the traffic belongs to [default: the first].
    #[arg(long, requires = "demo")]
    demo_mch_id: Option<String>,
    /// Demo: where payment notifications go (the receiver).
    #[arg(long, requires = "demo", default_value = "http://127.0.0.1:8080/wxpay/notify/pay")]
    demo_notify_url: String,
    /// Demo: where customers' refund applications are posted as JSON (the receiver's shop API).
    #[arg(long, requires = "demo", env = "WXPAY_SIM_DEMO_REFUND_APPLICATIONS_URL")]
    demo_refund_applications_url: Option<String>,
    /// Demo: bearer token for the refund applications endpoint.
    #[arg(long, requires = "demo", env = "WXPAY_SIM_DEMO_RECEIVER_TOKEN", hide_env_values = true)]
    demo_receiver_token: Option<String>,
    /// Demo: days of history to generate before today.
    #[arg(long, requires = "demo", default_value_t = 1)]
    demo_history_days: u32,
    /// Demo: seconds between live orders.
    #[arg(long, requires = "demo", default_value_t = 30)]
    demo_interval_secs: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Merchant API certificates.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Writes apiclient_cert.p12 (password = mch_id), apiclient_cert.pem and apiclient_key.pem.
    Issue {
        #[arg(long)]
        mch_id: String,
        #[arg(long)]
        out: PathBuf,
        /// The company name in the certificate's OU.
        #[arg(long)]
        company: Option<String>,
        /// The simulator's data directory (its CA signs the certificate) [default target/wxpay-sim].
        #[arg(long, env = "WXPAY_SIM_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("wxpay_sim=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Cert { command: CertCommand::Issue { mch_id, out, company, data_dir } }) => {
            issue(&mch_id, &out, company, data_dir)
        }
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
            runtime.block_on(serve(cli.serve))
        }
    }
}

fn issue(
    mch_id: &str,
    out: &std::path::Path,
    company: Option<String>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    wxpay::MchId::new(mch_id).context("--mch-id")?;
    let data_dir = data_dir.unwrap_or_else(|| SimConfig::default().data_dir);
    let ca = Ca::load_or_create(&data_dir.join("ca")).context("loading the simulator's CA")?;
    let company = company.unwrap_or_else(|| format!("wxpay-sim 沙箱商户 {mch_id}"));
    let cert = ca.issue_client(mch_id, &company, chrono::Utc::now()).context("issuing the certificate")?;
    for path in cert.write_to(out, mch_id).context("writing the certificate files")? {
        println!("{}", path.display());
    }
    eprintln!(
        "serial {} · apiclient_cert.p12 password = {mch_id} · signed by {}",
        cert.serial_hex,
        data_dir.join("ca").join("ca_cert.pem").display()
    );
    Ok(())
}

async fn serve(args: Serve) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => SimConfig::from_file(path)?,
        None => SimConfig { listen: SocketAddr::from(([127, 0, 0, 1], 8443)), ..SimConfig::default() },
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    for flag in &args.merchants {
        config.merchants.push(MerchantConfig::parse_flag(flag)?);
    }
    if let Some(v) = args.time_factor {
        config.time_factor = v;
    }
    if let Some(v) = args.refund_delay_ms {
        config.refund_delay_ms = v;
    }
    if args.clock_start.is_some() {
        config.clock_start = args.clock_start;
    }
    if args.admin_token.is_some() {
        config.admin_token = args.admin_token;
    }
    if args.snapshot {
        config.snapshot = true;
    }
    if config.merchants.is_empty() {
        bail!("no sandbox merchant: pass --merchant MCH_ID:APPID:KEY or a --config file with [[merchants]]");
    }
    if !config.listen.ip().is_loopback() && config.admin_token.is_none() {
        tracing::warn!("listening on {} without --admin-token: anyone who can reach it can use /admin", config.listen);
    }
    let demo_mch = args.demo_mch_id.clone().unwrap_or_else(|| config.merchants[0].mch_id.clone());
    let handle = wxpay_sim::spawn(config).await?;
    let ca_path = std::fs::canonicalize(&handle.ca_cert_path).unwrap_or_else(|_| handle.ca_cert_path.clone());
    println!("wxpay-sim listening on {}", handle.base_url);
    println!("CA certificate (trust it in clients): {}", ca_path.display());
    println!("admin API: {}/admin/info", handle.base_url);
    for m in handle.sim.merchants() {
        println!("merchant {} appid {}", m.mch_id, m.appid);
    }
    if args.demo {
        let options = DemoOptions {
            mch_id: demo_mch,
            notify_url: args.demo_notify_url,
            refund_applications_url: args.demo_refund_applications_url,
            receiver_token: args.demo_receiver_token,
            history_days: args.demo_history_days,
            live_interval: Duration::from_secs(args.demo_interval_secs.max(1)),
        };
        let sim = handle.sim.clone();
        tokio::spawn(async move {
            if let Err(e) = wxpay_sim::demo::run(sim, options).await {
                tracing::error!("demo stopped: {e}");
            }
        });
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    println!("stopping");
    handle.shutdown().await;
    Ok(())
}
