//! `paydesk-cli setup --sandbox`: completes the first-run setup of a data directory without the wizard, the way
//! the wizard's "use the local sandbox" button does: finds the running wxpay-sim (`PAYDESK_SANDBOX_*`), takes its
//! merchant, API key and `.p12`, and calls `Core::setup_complete` with the default SQLite ledger in the data
//! directory. For the sandbox demo (`scripts/sandbox`) and tests; a shop owner uses the app's wizard.
//!
//! The owner password comes from `PAYDESK_PASSWORD` (never a flag: flags show in the process list).

use anyhow::{anyhow, bail, Context};
use paydesk_core::contract::{CertSource, SetupInput};
use paydesk_core::{Core, CoreOptions, Secret};

use crate::desk::{self, DeskArgs};
use crate::{json, Outcome};

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// Use the local wxpay-sim sandbox (found through PAYDESK_SANDBOX_DIR / _URL / _CONFIG). Required: setting up
    /// a real merchant is the wizard's job.
    #[arg(long)]
    sandbox: bool,
    /// The owner's name.
    #[arg(long, default_value = "店主")]
    owner_name: String,
    /// Use this `.p12` instead of the one the sandbox found (password: the mch_id).
    #[arg(long)]
    p12: Option<String>,
    /// The ledger URL (default: the SQLite file ledger.db in the data directory).
    #[arg(long)]
    ledger_url: Option<String>,
    /// Succeed without changes when the data directory is already set up.
    #[arg(long)]
    if_needed: bool,
}

pub fn run(args: &SetupArgs) -> anyhow::Result<Outcome> {
    if !args.sandbox {
        bail!("only --sandbox is supported here: set up a real merchant in the desktop app's wizard");
    }
    let dir = &args.desk.data_dir;
    if args.if_needed && dir.join("config.json").is_file() && dir.join("vault.json").is_file() {
        eprintln!("paydesk-cli: {} is already set up", dir.display());
        return Ok(Outcome::Ok);
    }
    let password = std::env::var("PAYDESK_PASSWORD")
        .map_err(|_| anyhow!("set PAYDESK_PASSWORD to the owner password (at least 8 characters)"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let core = Core::open(dir, CoreOptions::default()).map_err(|e| anyhow!("{e}"))?;
    let defaults = runtime.block_on(core.setup_sandbox_defaults()).map_err(|e| desk::explain(&core, &e))?;
    let p12 = args.p12.clone().unwrap_or_else(|| defaults.p12_path.clone());
    let input = SetupInput {
        merchant: defaults.merchant.clone(),
        api_key: Secret::new(defaults.api_key_hint.clone()),
        source: Some(CertSource::P12 { path: p12, password: None }),
        sandbox: true,
        ledger_url: args.ledger_url.clone().map(Secret::new),
        owner_name: args.owner_name.clone(),
        owner_password: Secret::new(password),
    };
    let status = runtime.block_on(core.setup_complete(input)).map_err(|e| desk::explain(&core, &e))?;
    json::print(&status)?;
    Ok(Outcome::Ok)
}
