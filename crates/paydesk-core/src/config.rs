//! The non-secret settings (`config.json` in the data directory): who the merchant is, how to reach WeChat Pay
//! (or the sandbox: base URL and the CA to trust), what the ledger is (kind and a password-free display; the URL
//! itself is in the vault), the owner's name, the public API certificate (so its expiry shows while locked), and
//! the owner's preferences. Readable without the password; never holds a secret.

use serde::{Deserialize, Serialize};

use crate::contract::{LedgerInfo, MerchantInput, Settings};
use crate::error::{CoreError, CoreResult};
use crate::paths::{write_atomic, Paths};

const VERSION: u32 = 1;

/// Where the sandbox (wxpay-sim) listens and which CA certificate to trust for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxEndpoint {
    pub base_url: String,
    pub ca_path: String,
}

/// `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    pub version: u32,
    pub merchant: MerchantInput,
    /// `None`: WeChat Pay itself.
    pub sandbox: Option<SandboxEndpoint>,
    pub ledger: LedgerInfo,
    pub owner_name: String,
    /// The API certificate (DER, base64): public, shown in the status bar and checked for expiry.
    pub certificate_der_b64: Option<String>,
    pub settings: Settings,
}

impl AppConfig {
    pub fn new(
        merchant: MerchantInput,
        sandbox: Option<SandboxEndpoint>,
        ledger: LedgerInfo,
        owner_name: String,
        certificate_der_b64: Option<String>,
        settings: Settings,
    ) -> AppConfig {
        AppConfig { version: VERSION, merchant, sandbox, ledger, owner_name, certificate_der_b64, settings }
    }

    /// Reads `config.json`; `None` when there is none (first run).
    pub fn load(paths: &Paths) -> CoreResult<Option<AppConfig>> {
        let path = paths.config_file();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CoreError::io(&path, e)),
        };
        let config: AppConfig = serde_json::from_slice(&bytes).map_err(|e| CoreError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if config.version != VERSION {
            return Err(CoreError::Internal(format!("config.json version {} is not supported", config.version)));
        }
        Ok(Some(config))
    }

    /// Writes `config.json` atomically.
    pub fn save(&self, paths: &Paths) -> CoreResult<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| CoreError::Internal(format!("config: {e}")))?;
        write_atomic(&paths.config_file(), &bytes)
    }
}

/// Checks settings the owner typed.
pub fn validate_settings(s: &Settings) -> CoreResult<()> {
    if s.idle_lock_minutes > 24 * 60 {
        return Err(CoreError::invalid(
            "自动锁定时间最多 1440 分钟（24 小时）；0 表示不自动锁定。",
            "The idle lock is at most 1440 minutes (24 hours); 0 turns it off.",
        ));
    }
    if s.refund_password_threshold_fen < 0 {
        return Err(CoreError::invalid(
            "退款密码门槛不能是负数。",
            "The refund password threshold cannot be negative.",
        ));
    }
    Ok(())
}

/// `kind` and a password-free `display` of a ledger URL.
pub fn ledger_info(url: &str) -> CoreResult<LedgerInfo> {
    if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or(rest);
        return Ok(LedgerInfo { kind: "sqlite".into(), display: path.to_string() });
    }
    let scheme = if url.starts_with("postgres://") {
        "postgres://"
    } else if url.starts_with("postgresql://") {
        "postgresql://"
    } else {
        return Err(CoreError::invalid(
            "账本地址必须是 sqlite://文件 或 postgres://用户@主机/数据库。",
            "The ledger address must be sqlite://FILE or postgres://USER@HOST/DATABASE.",
        ));
    };
    let rest = &url[scheme.len()..];
    // Only the authority part (before the first '/') can hold user:password@.
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    // Query parameters may carry `password=`; they are left out of the display.
    let tail = tail.split('?').next().unwrap_or("");
    Ok(LedgerInfo { kind: "postgres".into(), display: format!("postgres://{authority}{tail}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_display_never_shows_a_password() {
        let i = ledger_info("postgres://shop:s3cret@db.local:5432/paydesk?sslmode=require&password=x").unwrap();
        assert_eq!((i.kind.as_str(), i.display.as_str()), ("postgres", "postgres://shop@db.local:5432/paydesk"));
        let i = ledger_info("postgresql://db.local/paydesk").unwrap();
        assert_eq!(i.display, "postgres://db.local/paydesk");
        let i = ledger_info("sqlite:///home/shop/ledger.db").unwrap();
        assert_eq!((i.kind.as_str(), i.display.as_str()), ("sqlite", "/home/shop/ledger.db"));
        assert!(ledger_info("mysql://x").is_err());
    }

    #[test]
    fn settings_limits() {
        assert!(validate_settings(&Settings::default()).is_ok());
        assert!(validate_settings(&Settings { idle_lock_minutes: 1441, ..Settings::default() }).is_err());
        assert!(validate_settings(&Settings { refund_password_threshold_fen: -1, ..Settings::default() }).is_err());
    }
}
