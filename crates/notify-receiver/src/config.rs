//! Configuration: flags and environment variables (clap, every setting has both), an optional TOML file
//! (`notify-receiver.sample.toml` documents every key), merged — a flag or variable wins over the file — and
//! validated into [`Config`].
//!
//! Secrets (the merchants' API keys, the shop-backend token, the relay secret) never sit in the TOML file: each comes
//! from an environment variable or from a file only its owner can read (mode 0600, checked). The structs that hold
//! one write their own `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use wxpay::{ApiKey, AppId, MchId, SignType};

/// Why the configuration is unusable. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// The command line. Each flag also reads the environment variable named beside it.
#[derive(Debug, Default, clap::Parser)]
#[command(
    name = "notify-receiver",
    version,
    about = "WeChat Pay v2 notifications and the shop backend's API into the Paydesk ledger"
)]
pub struct Args {
    /// TOML config file (see notify-receiver.sample.toml). Flags and environment variables override its values.
    #[arg(long, env = "NOTIFY_RECEIVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]. Put nginx (TLS) in front; see the README.
    #[arg(long, env = "NOTIFY_RECEIVER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The ledger: `sqlite:///var/lib/paydesk/ledger.db` or `postgres://user@host/paydesk`.
    #[arg(long, env = "NOTIFY_RECEIVER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A merchant account, repeatable: `MCH_ID:APPID:env:VAR` (API key in environment variable VAR) or
    /// `MCH_ID:APPID:file:PATH` (API key in a file of mode 0600). In the environment: comma-separated.
    #[arg(long = "merchant", env = "NOTIFY_RECEIVER_MERCHANTS", value_delimiter = ',')]
    pub merchants: Vec<String>,
    /// The shop backend's bearer token. Prefer the environment variable or --shop-token-file: flags show in `ps`.
    #[arg(long, env = "NOTIFY_RECEIVER_SHOP_TOKEN", hide_env_values = true)]
    pub shop_token: Option<String>,
    /// A file (mode 0600) holding the shop backend's bearer token.
    #[arg(long, env = "NOTIFY_RECEIVER_SHOP_TOKEN_FILE")]
    pub shop_token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes [default: 65536]. WeChat's notifications are about 1 KB.
    #[arg(long, env = "NOTIFY_RECEIVER_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Forward each verified event as signed JSON to this URL of the shop backend (optional).
    #[arg(long, env = "NOTIFY_RECEIVER_RELAY_URL")]
    pub relay_url: Option<String>,
    /// The HMAC-SHA256 key of relayed events. Prefer the environment variable or --relay-secret-file.
    #[arg(long, env = "NOTIFY_RECEIVER_RELAY_SECRET", hide_env_values = true)]
    pub relay_secret: Option<String>,
    /// A file (mode 0600) holding the relay's HMAC-SHA256 key.
    #[arg(long, env = "NOTIFY_RECEIVER_RELAY_SECRET_FILE")]
    pub relay_secret_file: Option<PathBuf>,
    /// The relay's first retry delay in milliseconds, doubling with each failure up to an hour [default: 5000].
    #[arg(long, env = "NOTIFY_RECEIVER_RELAY_RETRY_BASE_MS")]
    pub relay_retry_base_ms: Option<u64>,
    /// Ledger connections [default: 16].
    #[arg(long, env = "NOTIFY_RECEIVER_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// How long one database call may wait (pool, SQLite write lock) before the answer is FAIL, in milliseconds
    /// [default: 5000]. WeChat gives up on an answer after about 5 s.
    #[arg(long, env = "NOTIFY_RECEIVER_DB_TIMEOUT_MS")]
    pub db_timeout_ms: Option<u64>,
    /// At shutdown (SIGTERM, Ctrl-C), how long requests in flight may take to finish, in seconds [default: 30].
    #[arg(long, env = "NOTIFY_RECEIVER_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Log filter in tracing's EnvFilter syntax [default: info].
    #[arg(long, env = "NOTIFY_RECEIVER_LOG")]
    pub log: Option<String>,
    /// Async worker threads [default: 1]. The database's own threads (SQLite) or server (PostgreSQL) do the heavy
    /// work; one thread answering HTTP saves the thread hand-offs that dominate on a small machine.
    #[arg(long, env = "NOTIFY_RECEIVER_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
}

/// The TOML file. No secrets here: only where to find them.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    body_limit: Option<usize>,
    shop_token_env: Option<String>,
    shop_token_file: Option<PathBuf>,
    relay_url: Option<String>,
    relay_secret_env: Option<String>,
    relay_secret_file: Option<PathBuf>,
    relay_retry_base_ms: Option<u64>,
    db_max_connections: Option<u32>,
    db_timeout_ms: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    log: Option<String>,
    worker_threads: Option<usize>,
    merchants: Vec<FileMerchant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMerchant {
    mch_id: String,
    appid: String,
    name: Option<String>,
    sign_type: Option<String>,
    key_env: Option<String>,
    key_file: Option<PathBuf>,
}

/// A secret string (token, HMAC key). Its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(*** {} chars)", self.0.chars().count())
    }
}

/// A merchant account the receiver takes notifications for.
#[derive(Clone)]
pub struct Merchant {
    pub mch_id: MchId,
    pub appid: AppId,
    /// Shown in the ledger when the receiver creates the merchant's row.
    pub name: String,
    /// The sign type of orders registered without one.
    pub sign_type: SignType,
    pub key: ApiKey,
}

impl Merchant {
    pub fn new(mch_id: MchId, appid: AppId, key: ApiKey) -> Merchant {
        let name = format!("merchant {mch_id}");
        Merchant { mch_id, appid, name, sign_type: SignType::Md5, key }
    }
}

impl fmt::Debug for Merchant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merchant")
            .field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("name", &self.name)
            .field("sign_type", &self.sign_type)
            .field("key", &self.key) // ApiKey's Debug masks it
            .finish()
    }
}

/// Where verified events go.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub url: reqwest::Url,
    pub secret: Secret,
    /// The first retry delay; it doubles with each failure, up to an hour.
    pub retry_base: Duration,
}

impl RelayConfig {
    pub fn new(url: reqwest::Url, secret: Secret) -> RelayConfig {
        RelayConfig { url, secret, retry_base: Duration::from_secs(5) }
    }
}

/// Everything the receiver needs, validated.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub merchants: Vec<Merchant>,
    pub shop_token: Secret,
    pub body_limit: usize,
    pub relay: Option<RelayConfig>,
    pub db_max_connections: u32,
    pub db_timeout: Duration,
    pub shutdown_grace: Duration,
    pub log: String,
    /// Tokio worker threads of the binary's runtime.
    pub worker_threads: usize,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("merchants", &self.merchants)
            .field("shop_token", &self.shop_token)
            .field("body_limit", &self.body_limit)
            .field("relay", &self.relay)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_timeout", &self.db_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("log", &self.log)
            .field("worker_threads", &self.worker_threads)
            .finish()
    }
}

/// A database URL fit for logs: a password (`user:password@`) is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Config {
    /// A configuration with the defaults, for tests and embedding.
    pub fn new(database_url: impl Into<String>, merchants: Vec<Merchant>, shop_token: Secret) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: database_url.into(),
            merchants,
            shop_token,
            body_limit: DEFAULT_BODY_LIMIT,
            relay: None,
            db_max_connections: 16,
            db_timeout: Duration::from_millis(5000),
            shutdown_grace: Duration::from_secs(30),
            log: "info".into(),
            worker_threads: 1,
        }
    }

    /// Merges the command line (and its environment variables) over the file it names, reads the secrets, checks.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| err(format!("reading {}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| err(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let database_url = args
            .database_url
            .or(file.database_url)
            .ok_or_else(|| err("no database URL (--database-url, NOTIFY_RECEIVER_DATABASE_URL or database_url)"))?;
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(err("the database URL must start with sqlite: or postgres:"));
        }

        let mut merchants = Vec::new();
        for m in &file.merchants {
            let key = match (&m.key_env, &m.key_file) {
                (Some(var), None) => secret_from_env(var, &format!("merchant {}'s API key", m.mch_id))?,
                (None, Some(path)) => secret_from_file(path, &format!("merchant {}'s API key", m.mch_id))?,
                _ => return Err(err(format!("merchant {}: give exactly one of key_env and key_file", m.mch_id))),
            };
            let mut merchant = merchant(&m.mch_id, &m.appid, key)?;
            if let Some(name) = &m.name {
                merchant.name = name.clone();
            }
            if let Some(st) = &m.sign_type {
                merchant.sign_type = SignType::parse(st)
                    .ok_or_else(|| err(format!("merchant {}: sign_type must be MD5 or HMAC-SHA256", m.mch_id)))?;
            }
            merchants.push(merchant);
        }
        for flag in &args.merchants {
            merchants.push(parse_merchant_flag(flag)?);
        }
        if merchants.is_empty() {
            return Err(err("no merchant (--merchant MCH_ID:APPID:env:VAR, or [[merchants]] in the file)"));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &merchants {
            if !seen.insert(m.mch_id.clone()) {
                return Err(err(format!("merchant {} is configured twice", m.mch_id)));
            }
        }

        let shop_token = match (args.shop_token, args.shop_token_file.or(file.shop_token_file), file.shop_token_env) {
            (Some(token), _, _) => token,
            (None, Some(path), _) => secret_from_file(&path, "the shop token")?,
            (None, None, Some(var)) => secret_from_env(&var, "the shop token")?,
            (None, None, None) => {
                return Err(err("no shop-backend token (NOTIFY_RECEIVER_SHOP_TOKEN or --shop-token-file)"))
            }
        };
        if shop_token.len() < 16 {
            return Err(err("the shop-backend token must be at least 16 characters"));
        }

        let relay = match args.relay_url.or(file.relay_url) {
            None => None,
            Some(url) => {
                let url = reqwest::Url::parse(&url).map_err(|e| err(format!("relay URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(err("the relay URL must be http or https"));
                }
                let secret =
                    match (args.relay_secret, args.relay_secret_file.or(file.relay_secret_file), file.relay_secret_env)
                    {
                        (Some(s), _, _) => s,
                        (None, Some(path), _) => secret_from_file(&path, "the relay secret")?,
                        (None, None, Some(var)) => secret_from_env(&var, "the relay secret")?,
                        (None, None, None) => return Err(err(
                            "a relay URL needs a relay secret (NOTIFY_RECEIVER_RELAY_SECRET or --relay-secret-file)",
                        )),
                    };
                if secret.len() < 16 {
                    return Err(err("the relay secret must be at least 16 characters"));
                }
                let retry_base = args.relay_retry_base_ms.or(file.relay_retry_base_ms).unwrap_or(5000).max(10);
                Some(RelayConfig { url, secret: Secret(secret), retry_base: Duration::from_millis(retry_base) })
            }
        };

        let body_limit = args.body_limit.or(file.body_limit).unwrap_or(DEFAULT_BODY_LIMIT);
        if !(1024..=16 * 1024 * 1024).contains(&body_limit) {
            return Err(err("the body limit must be between 1 KiB and 16 MiB"));
        }
        let listen = match args.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().map_err(|_| err("default listen address"))?,
        };
        Ok(Config {
            listen,
            database_url,
            merchants,
            shop_token: Secret(shop_token),
            body_limit,
            relay,
            db_max_connections: args.db_max_connections.or(file.db_max_connections).unwrap_or(16).clamp(1, 1000),
            db_timeout: Duration::from_millis(args.db_timeout_ms.or(file.db_timeout_ms).unwrap_or(5000).max(1)),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs.or(file.shutdown_grace_secs).unwrap_or(30)),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            worker_threads: args.worker_threads.or(file.worker_threads).unwrap_or(1).clamp(1, 64),
        })
    }
}

fn merchant(mch_id: &str, appid: &str, key: String) -> Result<Merchant, ConfigError> {
    let mch_id = MchId::new(mch_id).map_err(|e| err(e.to_string()))?;
    let appid = AppId::new(appid).map_err(|e| err(e.to_string()))?;
    if key.is_empty() {
        return Err(err(format!("merchant {mch_id}: the API key is empty")));
    }
    Ok(Merchant::new(mch_id, appid, ApiKey::new(key)))
}

/// `MCH_ID:APPID:env:VAR` or `MCH_ID:APPID:file:PATH`.
fn parse_merchant_flag(flag: &str) -> Result<Merchant, ConfigError> {
    let mut parts = flag.trim().splitn(4, ':');
    let (Some(mch_id), Some(appid), Some(source), Some(place)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err(format!("--merchant {flag:?}: expected MCH_ID:APPID:env:VAR or MCH_ID:APPID:file:PATH")));
    };
    let what = format!("merchant {mch_id}'s API key");
    let key = match source {
        "env" => secret_from_env(place, &what)?,
        "file" => secret_from_file(Path::new(place), &what)?,
        _ => return Err(err(format!("--merchant {mch_id}: the key source must be env or file"))),
    };
    merchant(mch_id, appid, key)
}

fn secret_from_env(var: &str, what: &str) -> Result<String, ConfigError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(err(format!("{what}: environment variable {var} is not set"))),
    }
}

/// Reads a secret from a file that only its owner may read (mode 0600 or stricter); one trailing newline is
/// dropped.
pub fn secret_from_file(path: &Path, what: &str) -> Result<String, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| err(format!("{what}: {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "{what}: {} has mode {mode:04o}; it must be readable by its owner only (chmod 600)",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("{what}: {}: {e}", path.display())))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.is_empty() {
        return Err(err(format!("{what}: {} is empty", path.display())));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn key_file(dir: &Path, name: &str, mode: u32, content: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(content.as_bytes()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn key_file_must_be_private_and_loses_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let open = key_file(dir.path(), "open.key", 0o644, "k\n");
        let e = secret_from_file(&open, "key").unwrap_err();
        assert!(e.0.contains("chmod 600"), "{e}");
        let private = key_file(dir.path(), "private.key", 0o600, "0123456789abcdef0123456789abcdef\n");
        assert_eq!(secret_from_file(&private, "key").unwrap(), "0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn file_and_flags_merge_and_secrets_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(dir.path(), "m.key", 0o600, "merchant-key-0000000000000000001\n");
        let token = key_file(dir.path(), "token", 0o600, "shop-token-000000000000001");
        let file = dir.path().join("r.toml");
        std::fs::write(
            &file,
            format!(
                "listen = \"127.0.0.1:9999\"\ndatabase_url = \"postgres://pay:hunter2@db/paydesk\"\nbody_limit = 2048\n\
                 shop_token_file = {:?}\n[[merchants]]\nmch_id = \"1900000109\"\nappid = \"wx2421b1c4370ec43b\"\n\
                 sign_type = \"HMAC-SHA256\"\nkey_file = {:?}\n",
                token.display().to_string(),
                key.display().to_string()
            ),
        )
        .unwrap();
        let args = Args { config: Some(file), body_limit: Some(4096), ..Args::default() };
        let config = Config::from_args(args).unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.body_limit, 4096, "the flag wins over the file");
        assert_eq!(config.merchants[0].sign_type, SignType::HmacSha256);
        assert_eq!(config.merchants[0].key.expose(), "merchant-key-0000000000000000001");
        let debug = format!("{config:?}");
        for secret in ["merchant-key-0000000000000000001", "shop-token-000000000000001", "hunter2"] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }
    }

    #[test]
    fn merchant_flags_name_their_key_source() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(dir.path(), "m.key", 0o600, "k-from-file");
        let m = parse_merchant_flag(&format!("1900000109:wx2421b1c4370ec43b:file:{}", key.display())).unwrap();
        assert_eq!(m.key.expose(), "k-from-file");
        assert!(parse_merchant_flag("1900000109:wx2421b1c4370ec43b:inline:k").is_err());
        assert!(parse_merchant_flag("1900000109:wx2421b1c4370ec43b").is_err());
        assert!(parse_merchant_flag("1900000109:wx2421b1c4370ec43b:env:NOTIFY_RECEIVER_TEST_UNSET_VAR").is_err());
    }

    #[test]
    fn missing_pieces_are_named() {
        let e = Config::from_args(Args::default()).unwrap_err();
        assert!(e.0.contains("database URL"), "{e}");
        let args = Args { database_url: Some("sqlite://x.db".into()), ..Args::default() };
        assert!(Config::from_args(args).unwrap_err().0.contains("no merchant"));
    }

    #[test]
    fn the_sample_config_parses_and_holds_no_secret() {
        let text = include_str!("../notify-receiver.sample.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(file.merchants.len(), 1);
        assert_eq!(file.merchants[0].key_file.as_deref(), Some(Path::new("/etc/notify-receiver/1900000109.key")));
        assert_eq!(file.body_limit, Some(DEFAULT_BODY_LIMIT));
        assert!(file.shop_token_file.is_some() && file.relay_url.is_none());
    }

    #[test]
    fn redacted_url_hides_the_password_only() {
        assert_eq!(redact_url("postgres://pay:hunter2@db:5432/paydesk"), "postgres://pay:***@db:5432/paydesk");
        assert_eq!(redact_url("postgres://pay@db/paydesk"), "postgres://pay@db/paydesk");
        assert_eq!(redact_url("sqlite:///var/lib/ledger.db"), "sqlite:///var/lib/ledger.db");
    }
}
