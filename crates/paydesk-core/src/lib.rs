//! paydesk-core: the use cases shared by the desktop app (`src-tauri`, a thin shell over [`Core`]) and
//! `paydesk-cli`. It knows nothing about Tauri or HTTP servers (ARCHITECTURE.md §2); every command of
//! `docs/ui-contract.md` is one [`Core`] method returning exactly the contract's shapes ([`contract`]).
//!
//! - [`core`]: [`Core`] — app state, the commands, events ([`CoreEvent`]), the idle lock and the background task.
//! - [`paths`]: the data directory's files (passed in by the shell or the CLI).
//! - [`vault`]: the secrets, encrypted with a key derived from the owner password (Argon2id + XChaCha20-Poly1305).
//! - [`secret`]: [`Secret`], a value that masks itself in `Debug`, never serializes and is wiped on drop.
//! - [`config`]: the non-secret settings file.
//! - [`setup`]: the wizard — certificate inspection, connection test, the local sandbox.
//! - [`session`]: the unlocked state (ledger + WeChat Pay client).
//! - [`orders`]: list, detail, query now, close.
//! - [`sync`]: status sync of orders whose outcome is unknown (ARCHITECTURE.md §3), its schedule and rounds.
//! - [`refunds`]: the application queue, the guards, sending over mutual TLS, retries, tracking to the end.
//! - [`audit`]: the audit log page: paging, chain verification, CSV export.
//! - [`dashboard`]: today's figures and the 14-day chart.
//! - [`close`]: the daily close — bills (download, import, original bytes kept), reconciliation, discrepancy actions.
//! - [`error`]: [`CoreError`] and the `{ code, message }` the UI gets ([`UiError`]), in zh-CN or English.
//!
//! Decisions: `docs/decisions/0007-vault-and-status-sync.md`.

pub mod audit;
pub mod close;
pub mod config;
pub mod contract;
pub mod core;
pub mod dashboard;
pub mod error;
pub mod orders;
pub mod paths;
pub mod refund_commands;
pub mod refunds;
pub mod secret;
pub mod session;
pub mod setup;
pub mod sync;
pub mod vault;

pub use crate::core::{BackgroundOptions, BackgroundTask, Core, CoreEvent, CoreOptions};
pub use crate::error::{CoreError, CoreResult, Locale, UiError};
pub use crate::refunds::RefundChecked;
pub use crate::secret::Secret;
pub use crate::session::Role;
pub use crate::sync::SyncReport;
