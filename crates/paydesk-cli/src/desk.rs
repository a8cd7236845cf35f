//! The commands that work on a set-up desk (`order list`, `order query`, `sync`): they open the same data
//! directory as the desktop app through paydesk-core and unlock its vault with the owner password, read from
//! `PAYDESK_PASSWORD` or asked for on a terminal (never a flag: flags show in the process list).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use paydesk_core::{Core, CoreError, CoreOptions};

/// Where the desk's data is.
#[derive(Debug, Clone, clap::Args)]
pub struct DeskArgs {
    /// The app's data directory (config.json, vault.json, ledger.db): the desktop app shows it in its settings.
    #[arg(long, env = "PAYDESK_DATA_DIR")]
    pub data_dir: PathBuf,
}

/// A runtime and an unlocked desk.
pub struct Desk {
    pub runtime: tokio::runtime::Runtime,
    pub core: Core,
    /// The owner password that unlocked it: refunds above the owner's threshold ask for it again.
    pub password: paydesk_core::Secret<String>,
}

/// A core error as the owner would read it, with its code.
pub fn explain(core: &Core, e: &CoreError) -> anyhow::Error {
    let ui = core.ui_error(e);
    anyhow!("{} [{}]", ui.message, ui.code)
}

fn password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PAYDESK_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Owner password: ").context("cannot read the password from the terminal");
    }
    bail!("the owner password is needed: set PAYDESK_PASSWORD, or run on a terminal to be asked for it")
}

/// Opens the data directory and unlocks it.
pub fn open(args: &DeskArgs) -> anyhow::Result<Desk> {
    if !args.data_dir.join("config.json").is_file() {
        bail!("{} holds no set-up desk (no config.json): run the desktop app's setup first", args.data_dir.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let core = Core::open(&args.data_dir, CoreOptions::default()).map_err(|e| anyhow!("{e}"))?;
    let password = password()?;
    runtime.block_on(core.vault_unlock(&password)).map_err(|e| explain(&core, &e))?;
    Ok(Desk { runtime, core, password: paydesk_core::Secret::from(password) })
}
