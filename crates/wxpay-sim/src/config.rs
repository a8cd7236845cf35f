//! The simulator's settings: where it listens, where it keeps its CA, the sandbox merchants (appid,
//! mch_id, API key, starting balance) and the knobs tests turn (time factor, refund delay). Read from
//! a TOML file (`wxpay-sim.sample.toml` documents every key) and/or built in code by tests.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Everything [`crate::spawn`] needs. `Default` is a loopback server on a free port with no merchant.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Where the CA (`ca/`), issued certificates and snapshots live. Created if missing.
    pub data_dir: PathBuf,
    /// Extra DNS names / IP addresses for the server certificate (`localhost`, `127.0.0.1` and `::1`
    /// are always in it).
    pub hostnames: Vec<String>,
    /// The sandbox merchants.
    pub merchants: Vec<MerchantConfig>,
    /// How much faster than real time the notification retry schedule runs (1 = WeChat's real
    /// 15 s … 6 h schedule; 1000 = the whole 24 h schedule in 87 s).
    pub time_factor: u32,
    /// Real time from a refund's acceptance to its settlement (PROCESSING → SUCCESS / REFUNDCLOSE /
    /// CHANGE), unless the refund is stuck by a fault.
    pub refund_delay_ms: u64,
    /// How long a notification attempt waits for the merchant's acknowledgement.
    pub notify_timeout_ms: u64,
    /// At most this many notification attempts in flight at once.
    pub notify_concurrency: usize,
    /// The simulated clock's start, RFC 3339 (e.g. `2024-03-01T12:00:00+08:00`); real time if absent.
    pub clock_start: Option<String>,
    /// Bearer token the admin API requires (`Authorization: Bearer …`); open if absent.
    pub admin_token: Option<String>,
    /// Keep the books in `<data_dir>/state.json`: read at start, written at shutdown and on
    /// `POST /admin/snapshot`.
    pub snapshot: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::from("target/wxpay-sim"),
            hostnames: Vec::new(),
            merchants: Vec::new(),
            time_factor: 1,
            refund_delay_ms: 5_000,
            notify_timeout_ms: 5_000,
            notify_concurrency: 256,
            clock_start: None,
            admin_token: None,
            snapshot: false,
        }
    }
}

impl SimConfig {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<SimConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        SimConfig::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    pub fn from_toml(text: &str) -> Result<SimConfig, ConfigError> {
        let config: SimConfig = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: non-zero factors, valid ids, unique merchants.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.time_factor == 0 {
            return Err(ConfigError("time_factor must be at least 1".into()));
        }
        if self.notify_concurrency == 0 {
            return Err(ConfigError("notify_concurrency must be at least 1".into()));
        }
        for (i, m) in self.merchants.iter().enumerate() {
            wxpay::MchId::new(m.mch_id.as_str()).map_err(|e| ConfigError(e.to_string()))?;
            wxpay::AppId::new(m.appid.as_str()).map_err(|e| ConfigError(e.to_string()))?;
            if m.key.is_empty() {
                return Err(ConfigError(format!("merchant {}: the API key is empty", m.mch_id)));
            }
            if self.merchants[..i].iter().any(|o| o.mch_id == m.mch_id) {
                return Err(ConfigError(format!("merchant {} is listed twice", m.mch_id)));
            }
        }
        if let Some(start) = &self.clock_start {
            crate::clock::parse_instant(start).map_err(ConfigError)?;
        }
        Ok(())
    }

    pub fn refund_delay(&self) -> Duration {
        Duration::from_millis(self.refund_delay_ms)
    }

    pub fn notify_timeout(&self) -> Duration {
        Duration::from_millis(self.notify_timeout_ms)
    }
}

/// A sandbox merchant. Writes its own `Debug`: the API key never reaches a log.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    pub mch_id: String,
    pub appid: String,
    /// The API v2 key (32 characters at WeChat; any non-empty text here).
    pub key: String,
    /// The simulated available balance refunds are paid from (fen); payments add to it.
    #[serde(default)]
    pub balance_fen: i64,
    /// The refund notification URL "configured in the merchant platform", used when a refund request
    /// carries no `notify_url`.
    #[serde(default)]
    pub refund_notify_url: Option<String>,
    /// Minimum time between two new refunds of one order (FREQUENCY_LIMITED inside it); WeChat's
    /// newer doc says one per minute. 0 turns the rule off.
    #[serde(default = "default_refund_interval")]
    pub refund_min_interval_secs: u64,
}

fn default_refund_interval() -> u64 {
    60
}

impl MerchantConfig {
    pub fn new(mch_id: impl Into<String>, appid: impl Into<String>, key: impl Into<String>) -> Self {
        MerchantConfig {
            mch_id: mch_id.into(),
            appid: appid.into(),
            key: key.into(),
            balance_fen: 0,
            refund_notify_url: None,
            refund_min_interval_secs: default_refund_interval(),
        }
    }

    /// Parses the `--merchant MCH_ID:APPID:KEY` flag.
    pub fn parse_flag(text: &str) -> Result<MerchantConfig, ConfigError> {
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(mch), Some(appid), Some(key)) if !mch.is_empty() && !appid.is_empty() && !key.is_empty() => {
                Ok(MerchantConfig::new(mch, appid, key))
            }
            _ => Err(ConfigError("--merchant takes MCH_ID:APPID:KEY".into())),
        }
    }
}

impl fmt::Debug for MerchantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantConfig")
            .field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("key", &format_args!("*** {} chars", self.key.chars().count()))
            .field("balance_fen", &self.balance_fen)
            .field("refund_notify_url", &self.refund_notify_url)
            .field("refund_min_interval_secs", &self.refund_min_interval_secs)
            .finish()
    }
}

/// A config that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_config_parses() {
        let text = include_str!("../wxpay-sim.sample.toml");
        let config = SimConfig::from_toml(text).unwrap();
        assert_eq!(config.merchants.len(), 2);
        assert_eq!(config.merchants[0].refund_min_interval_secs, 60);
    }

    #[test]
    fn debug_hides_the_key() {
        let m = MerchantConfig::new("1900000109", "wx1", "secret-key-000000000000000000000");
        assert!(!format!("{m:?}").contains("secret"));
    }

    #[test]
    fn merchant_flag_parses() {
        let m = MerchantConfig::parse_flag("1900000109:wx2421b1c4370ec43b:k:with:colons").unwrap();
        assert_eq!(
            (m.mch_id.as_str(), m.appid.as_str(), m.key.as_str()),
            ("1900000109", "wx2421b1c4370ec43b", "k:with:colons")
        );
        assert!(MerchantConfig::parse_flag("1900000109:wx").is_err());
    }

    #[test]
    fn duplicate_merchants_and_zero_factor_are_refused() {
        let c = SimConfig {
            merchants: vec![MerchantConfig::new("1", "wx1", "k"), MerchantConfig::new("1", "wx2", "k")],
            ..SimConfig::default()
        };
        assert!(c.validate().is_err());
        let c = SimConfig { time_factor: 0, ..SimConfig::default() };
        assert!(c.validate().is_err());
    }
}
