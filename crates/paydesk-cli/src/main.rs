//! `paydesk-cli`: Paydesk's use cases for scripts and cron. Every command prints one JSON document on
//! stdout and explains failures on stderr.
//!
//! Exit codes: 0 success; 1 failure (unreadable input, a signature that does not match, a bill that
//! cannot be parsed, a notification that does not verify or decrypt; a desk command that failed, or a
//! sync round with a failed check); 2 wrong usage (clap); 3 a bill whose summary disagrees with its
//! rows, or a reconciled day with discrepancies left (the JSON is printed all the same); 4 the bill is not
//! available yet (`bill fetch`: "Bill Creating", try after 10:00); 5 WeChat has no bill for the day (`bill
//! fetch`: "No Bill Exist").
//!
//! `order`, `sync`, `refund`, `bill fetch`, `bill import` and `recon` work on a set-up desk (the desktop app's data directory) through paydesk-core.

mod bill;
mod close;
mod desk;
mod json;
mod notify;
mod order;
mod refund;
mod setup;
mod sign;
mod sync;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Paydesk command line: WeChat Pay v2 signatures, bills and notifications, as JSON.
#[derive(Debug, Parser)]
#[command(name = "paydesk-cli", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signs an XML message (§3) and checks the sign it carries. Exit 1 when that sign does not match.
    Sign(sign::SignArgs),
    /// Trade bills (§7).
    #[command(subcommand)]
    Bill(bill::BillCommand),
    /// Payment and refund notifications (§6).
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// The desk's orders: list them, or ask WeChat about one now (needs the owner password).
    #[command(subcommand)]
    Order(order::OrderCommand),
    /// One status-sync round: asks WeChat about every order whose check is due (needs the owner password).
    Sync(sync::SyncArgs),
    /// Refund applications and refunds: list, apply, approve, reject, retry, query, sync (needs the owner password).
    #[command(subcommand)]
    Refund(refund::RefundCommand),
    /// Reconciles a day against its newest bill and prints it; exit 0 clean, 3 discrepancies remain (needs the
    /// owner password).
    Recon(close::ReconArgs),
    /// Sets up a data directory for the local wxpay-sim sandbox without the wizard (owner password from
    /// PAYDESK_PASSWORD): the sandbox demo's preconfigured desk.
    Setup(setup::SetupArgs),
}

/// How a command ended, when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// Exit 1: the command ran, and what it checked failed (the JSON was printed).
    Failed,
    /// Exit 3: a bill's summary disagrees with its rows; a reconciled day has discrepancies left.
    Disagrees,
    /// Exit 4: the day's bill is not available yet.
    NotYet,
    /// Exit 5: WeChat has no bill for the day.
    NoBill,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => sign::run(&args),
        Command::Bill(cmd) => bill::run(&cmd),
        Command::Notify(cmd) => notify::run(&cmd),
        Command::Order(cmd) => order::run(&cmd),
        Command::Sync(args) => sync::run(&args),
        Command::Refund(cmd) => refund::run(&cmd),
        Command::Recon(args) => close::recon(&args),
        Command::Setup(args) => setup::run(&args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Disagrees) => ExitCode::from(3),
        Ok(Outcome::NotYet) => ExitCode::from(4),
        Ok(Outcome::NoBill) => ExitCode::from(5),
        Err(e) => {
            eprintln!("paydesk-cli: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Reads FILE, or stdin when there is none.
fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display())),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("cannot read stdin")?;
            Ok(bytes)
        }
    }
}

/// The API key argument shared by the commands that need it.
#[derive(Debug, Clone, clap::Args)]
struct KeyArg {
    /// The merchant's API v2 key (商户平台 → API安全). Prefer the environment variable: a flag is
    /// visible to other users in the process list.
    #[arg(long, env = "PAYDESK_API_KEY", hide_env_values = true)]
    key: String,
}

impl KeyArg {
    fn api_key(&self) -> wxpay::ApiKey {
        wxpay::ApiKey::new(self.key.clone())
    }
}

/// An optional input file (stdin when absent).
#[derive(Debug, Clone, clap::Args)]
struct InputArg {
    /// The file to read; stdin when omitted.
    file: Option<PathBuf>,
}
