//! `paydesk-cli refund …`: the desktop's refund flows for scripts — the queue (`list`), `apply` (an application
//! entered at the desk), `approve` (guards, the refund written with its fixed out_refund_no, then sent over mutual
//! TLS), `reject`, `retry` (the same number and amount), `query`, and `sync` (one round of sending what is due
//! and asking about what is in flight, as the desktop does every minute).
//!
//! The owner password that unlocks the desk (PAYDESK_PASSWORD or the terminal) also confirms refunds above the
//! owner's threshold. Exit codes: 0 done; 1 refused or failed (the reason on stderr), or a `sync` round with an
//! error; 2 usage.

use anyhow::{anyhow, bail};
use serde::Serialize;
use wxpay::Fen;

use crate::desk::{self, Desk, DeskArgs};
use crate::{json, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum RefundCommand {
    /// The pending applications (with their orders' money) and the refunds not yet final, as JSON.
    List(ListArgs),
    /// Registers a customer's refund application at the desk.
    Apply(ApplyArgs),
    /// Approves an application (all of it, or --amount) and sends the refund.
    Approve(ApproveArgs),
    /// Rejects an application with a reason.
    Reject(RejectArgs),
    /// Sends a refund that waits for the owner again (after a NOTENOUGH top-up), same number and amount.
    Retry(RefundNoArgs),
    /// Asks WeChat about one refund now and records what it says.
    Query(RefundNoArgs),
    /// One refund round: sends what is due, asks about what is in flight. Exit 1 when a step failed.
    Sync(SyncArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// Every application and the newest refunds, not only the open ones.
    #[arg(long)]
    all: bool,
}

/// An amount in yuan (`12.34`) or fen (`--amount-fen 1234`).
#[derive(Debug, clap::Args)]
pub struct AmountArgs {
    /// The amount in yuan, e.g. 12.34 (exact, at most two decimals).
    #[arg(long, conflicts_with = "amount_fen")]
    amount: Option<String>,
    /// The amount in fen.
    #[arg(long)]
    amount_fen: Option<i64>,
}

impl AmountArgs {
    fn fen(&self) -> anyhow::Result<Option<Fen>> {
        match (&self.amount, self.amount_fen) {
            (Some(text), _) => Fen::parse_yuan(text).map(Some).map_err(|e| anyhow!("--amount {text}: {e}")),
            (None, Some(fen)) => Ok(Some(Fen(fen))),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// The order's out_trade_no.
    #[arg(long)]
    order: String,
    #[command(flatten)]
    amount: AmountArgs,
    /// Why the customer asks.
    #[arg(long)]
    reason: String,
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// The application's id (`refund list`).
    application_id: i64,
    /// A partial approval (default: the application's amount).
    #[command(flatten)]
    amount: AmountArgs,
    /// refund_desc, at most 80 characters: the customer sees it.
    #[arg(long)]
    desc: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    #[command(flatten)]
    desk: DeskArgs,
    application_id: i64,
    /// Why (kept with the application and in the audit log).
    #[arg(long)]
    reason: String,
}

#[derive(Debug, clap::Args)]
pub struct RefundNoArgs {
    #[command(flatten)]
    desk: DeskArgs,
    out_refund_no: String,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    desk: DeskArgs,
}

#[derive(Serialize)]
struct Listing {
    applications: Vec<paydesk_core::contract::ApplicationRow>,
    refunds: Vec<paydesk_core::contract::RefundView>,
}

pub fn run(cmd: &RefundCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RefundCommand::List(args) => {
            let desk = desk::open(&args.desk)?;
            let (status, scope) = if args.all { ("ALL", "all") } else { ("PENDING", "active") };
            let applications = call(&desk, desk.core.refund_applications_list(status))?;
            let refunds = call(&desk, desk.core.refunds_list(scope))?;
            json::print(&Listing { applications, refunds })?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Apply(args) => {
            let desk = desk::open(&args.desk)?;
            let Some(amount) = args.amount.fen()? else { bail!("say how much: --amount 12.34 or --amount-fen 1234") };
            let row = call(&desk, desk.core.refund_application_create(&args.order, amount.get(), &args.reason))?;
            json::print(&row)?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Approve(args) => {
            let desk = desk::open(&args.desk)?;
            let amount = match args.amount.fen()? {
                Some(a) => a,
                None => Fen(call(&desk, desk.core.refund_application_row(args.application_id))?.amount_fen),
            };
            let password = Some(desk.password.expose().as_str());
            let view = call(
                &desk,
                desk.core.refund_approve(args.application_id, amount.get(), args.desc.as_deref(), password),
            )?;
            json::print(&view)?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Reject(args) => {
            let desk = desk::open(&args.desk)?;
            let row = call(&desk, desk.core.refund_reject(args.application_id, &args.reason))?;
            json::print(&row)?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Retry(args) => {
            let desk = desk::open(&args.desk)?;
            let password = Some(desk.password.expose().as_str());
            let view = call(&desk, desk.core.refund_retry(&args.out_refund_no, password))?;
            json::print(&view)?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Query(args) => {
            let desk = desk::open(&args.desk)?;
            let view = call(&desk, desk.core.refund_query_now(&args.out_refund_no))?;
            json::print(&view)?;
            Ok(Outcome::Ok)
        }
        RefundCommand::Sync(args) => {
            let desk = desk::open(&args.desk)?;
            let steps = call(&desk, desk.core.refund_round())?;
            json::print(&steps)?;
            let failed = steps.iter().filter(|s| s.error.is_some()).count();
            if failed > 0 {
                eprintln!("paydesk-cli: {failed} of {} refund steps failed (see \"error\")", steps.len());
                return Ok(Outcome::Failed);
            }
            Ok(Outcome::Ok)
        }
    }
}

fn call<T>(desk: &Desk, fut: impl std::future::Future<Output = paydesk_core::CoreResult<T>>) -> anyhow::Result<T> {
    desk.runtime.block_on(fut).map_err(|e| desk::explain(&desk.core, &e))
}
