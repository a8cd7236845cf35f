//! Where the app keeps its files. The data directory is passed in (the shell gets it from Tauri's path API,
//! the CLI from `--data-dir`); nothing here assumes an OS. Layout:
//!
//! ```text
//! <data_dir>/
//!   config.json       non-secret settings (merchant ids, sign type, sandbox URL + CA path, ledger kind and
//!                     display, owner name, the public API certificate, idle lock, refund threshold, locale)
//!   vault.json        the encrypted vault (API key, certificate private key + chain or .p12, ledger URL)
//!   ledger.db         the default SQLite ledger (+ -wal / -shm while open)
//!   sync-state.json   when status sync last ran
//!   bills/<sha256>    the original bytes of every bill downloaded or imported (the ledger keeps the SHA-256)
//! ```
//!
//! Files are replaced atomically: written to a temporary file beside the target, flushed, then renamed over it
//! (`rename` replaces an existing file on Windows too), so a crash leaves the old file or the new one, never half.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CoreError, CoreResult};

/// The app's files inside its data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    data_dir: PathBuf,
}

impl Paths {
    pub fn new(data_dir: impl Into<PathBuf>) -> Paths {
        Paths { data_dir: data_dir.into() }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config_file(&self) -> PathBuf {
        self.data_dir.join("config.json")
    }

    pub fn vault_file(&self) -> PathBuf {
        self.data_dir.join("vault.json")
    }

    /// The staff login's vault: the API key and the ledger URL, never the certificate.
    pub fn staff_vault_file(&self) -> PathBuf {
        self.data_dir.join("staff-vault.json")
    }

    /// The id of the last refund application this desk announced (`applications-new`).
    pub fn applications_seen_file(&self) -> PathBuf {
        self.data_dir.join("applications-seen.txt")
    }

    /// Where CSV exports go when the OS has no Downloads folder.
    pub fn exports_dir(&self) -> PathBuf {
        self.data_dir.join("exports")
    }

    /// Where the original bytes of bills are kept, each named by its SHA-256.
    pub fn bills_dir(&self) -> PathBuf {
        self.data_dir.join("bills")
    }

    pub fn ledger_file(&self) -> PathBuf {
        self.data_dir.join("ledger.db")
    }

    pub fn sync_state_file(&self) -> PathBuf {
        self.data_dir.join("sync-state.json")
    }

    /// The default ledger: the SQLite file in the data directory.
    pub fn default_ledger_url(&self) -> String {
        sqlite_url(&self.ledger_file())
    }

    /// Creates the data directory if it does not exist.
    pub fn ensure_dir(&self) -> CoreResult<()> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| CoreError::io(&self.data_dir, e))
    }
}

/// `sqlite://<path>` for a file path on any OS. sqlx reads everything after the scheme as the file name up to a
/// `?` and percent-decodes it, so `%`, `?` and `#` are escaped; backslashes and drive letters pass as they are.
pub fn sqlite_url(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::from("sqlite://");
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `bytes` to `path` atomically (temporary file + flush + rename). On Unix the file is created 0600.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> CoreResult<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CoreError::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_escape_only_what_sqlx_decodes() {
        assert_eq!(sqlite_url(Path::new("/home/a b/ledger.db")), "sqlite:///home/a b/ledger.db");
        assert_eq!(sqlite_url(Path::new(r"C:\Users\店主\ledger.db")), r"sqlite://C:\Users\店主\ledger.db");
        assert_eq!(sqlite_url(Path::new("/x/50%?#.db")), "sqlite:///x/50%25%3F%23.db");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
