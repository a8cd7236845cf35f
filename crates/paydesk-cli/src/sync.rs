//! `paydesk-cli sync`: one status-sync round, as the desktop app runs every minute — for cron on a machine with no
//! desktop open. Prints what it checked; exits 1 when a check failed.

use crate::desk::{self, DeskArgs};
use crate::{json, Outcome};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    desk: DeskArgs,
}

pub fn run(args: &SyncArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let report = desk.runtime.block_on(desk.core.sync_round()).map_err(|e| desk::explain(&desk.core, &e))?;
    json::print(&report)?;
    if report.errors > 0 {
        eprintln!(
            "paydesk-cli: {} of {} checks failed (see \"error\" in the output)",
            report.errors,
            report.checked.len()
        );
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Ok)
}
