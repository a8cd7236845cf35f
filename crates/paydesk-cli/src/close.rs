//! The daily close from a script (cron after 10:00 Beijing time), on a set-up desk (owner password from
//! `PAYDESK_PASSWORD`):
//!
//! - `paydesk-cli bill fetch --date YYYY-MM-DD`: downloads the day's ALL bill (gzip), keeps it, imports it and
//!   reconciles the day; prints `BillFetch` (docs/ui-contract.md). Exit 0 imported (or already imported), 4 not yet
//!   ("Bill Creating", or before 10:00 the next day: try again later), 5 no bill ("No Bill Exist": no business that
//!   day; the day is reconciled against nothing), 1 failure.
//! - `paydesk-cli bill import FILE [--date YYYY-MM-DD]`: the same for a file exported from the merchant platform
//!   (plain or gzip; the day is read from the rows when not given). Exit 0 or 1.
//! - `paydesk-cli recon --date YYYY-MM-DD`: reconciles the day again against its newest bill and prints the day
//!   (`DayClose`: both sides' totals, each discrepancy with its kind, status and ids). Exit 0 when the day is
//!   clean (nothing waits for a person; items inside the carry-over window do not count yet), 3 when discrepancies
//!   remain, 1 failure (no bill yet: fetch or import it first).

use std::path::PathBuf;

use crate::desk::{self, DeskArgs};
use crate::{json, Outcome};

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub desk: DeskArgs,
    /// The Beijing day, YYYY-MM-DD (usually yesterday).
    #[arg(long)]
    pub date: String,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub desk: DeskArgs,
    /// The bill file (plain text or gzip).
    pub file: PathBuf,
    /// The Beijing day, YYYY-MM-DD; read from the bill's rows when omitted.
    #[arg(long)]
    pub date: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReconArgs {
    #[command(flatten)]
    pub desk: DeskArgs,
    /// The Beijing day, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
}

pub fn fetch(args: &FetchArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let fetched = desk.runtime.block_on(desk.core.bill_fetch(&args.date)).map_err(|e| desk::explain(&desk.core, &e))?;
    json::print(&fetched)?;
    Ok(match fetched.outcome.as_str() {
        "not_yet" => {
            eprintln!("paydesk-cli: {}", fetched.message);
            Outcome::NotYet
        }
        "no_bill" => {
            eprintln!("paydesk-cli: {}", fetched.message);
            Outcome::NoBill
        }
        _ => Outcome::Ok,
    })
}

pub fn import(args: &ImportArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let path = args.file.display().to_string();
    let fetched = desk
        .runtime
        .block_on(desk.core.bill_import(&path, args.date.as_deref()))
        .map_err(|e| desk::explain(&desk.core, &e))?;
    json::print(&fetched)?;
    Ok(Outcome::Ok)
}

pub fn recon(args: &ReconArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let day = desk.runtime.block_on(desk.core.recon_run(&args.date)).map_err(|e| desk::explain(&desk.core, &e))?;
    json::print(&day)?;
    if day.status == "open" {
        let open = day.discrepancies.iter().filter(|d| d.status == "open" || d.status == "action_pending").count();
        eprintln!("paydesk-cli: {}: {open} discrepancies need a look", day.day);
        return Ok(Outcome::Disagrees);
    }
    Ok(Outcome::Ok)
}
