//! The setup wizard's use cases: inspect an API certificate ([`inspect_certificate`]: subject, serial, validity,
//! and the warnings of the contract), test a connection ([`test_connection`]: a signed orderquery for an order
//! that cannot exist must come back ORDERNOTEXIST with a valid signature; anything else is explained by kind), and
//! find the local sandbox ([`discover_sandbox`]: wxpay-sim's data directory, its CA, a running server, a merchant
//! whose key is known, and its `.p12`). Completing the setup (config + vault + ledger merchant + audit entry) is
//! [`crate::Core::setup_complete`], which uses these.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use wxpay::api::{handle_reply, request_body, Merchant, OrderQuery, Request};
use wxpay::client::{CertificateInfo, ClientConfig, ClientIdentity, HttpTransport, IdentityError};
use wxpay::{ApiKey, AppId, ErrCode, MchId, OutTradeNo, SignType};

use crate::config::SandboxEndpoint;
use crate::contract::{
    rfc3339, CertSource, CertWarning, CertificateView, ConnectionTest, MerchantInput, SandboxDefaults,
};
use crate::error::{certificate_msg, explain_wechat, CoreError, CoreResult, Locale, Msg, WeChatProblem};
use crate::vault::StoredCertificate;

/// Certificates expiring within this many days get the `expires_soon` warning.
pub const EXPIRES_SOON_DAYS: i64 = 30;

/// An API certificate read from the files the owner chose.
#[derive(Debug)]
pub struct LoadedCertificate {
    /// What the vault keeps.
    pub stored: StoredCertificate,
    /// The leaf certificate's facts.
    pub info: CertificateInfo,
    /// The leaf certificate (public), for the config.
    pub leaf_der: Vec<u8>,
    /// The private key belongs to none of the certificates.
    pub key_mismatch: bool,
}

fn read(path: &str) -> CoreResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CoreError::Certificate(IdentityError::Read { path: path.to_string(), reason: e.to_string() }))
}

/// Reads the certificate files. Unreadable files, a wrong `.p12` password and the like are errors; a key that
/// does not match is reported in [`LoadedCertificate::key_mismatch`] so the wizard can still show the facts.
pub fn load_certificate(source: &CertSource, mch_id: &str) -> CoreResult<LoadedCertificate> {
    match source {
        CertSource::P12 { path, password } => {
            let bytes = zeroize::Zeroizing::new(read(path)?);
            let password = password.as_ref().map_or_else(|| mch_id.trim().to_string(), |p| p.expose().clone());
            let stored = StoredCertificate::P12 { p12_b64: B64.encode(&*bytes), password: password.clone() };
            let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, &password);
            let ders: Vec<Vec<u8>> = match &archive {
                Ok(a) => a.certs.iter().map(|c| c.cert.as_der().to_vec()).collect(),
                Err(_) => Vec::new(),
            };
            match ClientIdentity::from_pkcs12(&bytes, &password) {
                Ok(identity) => finish(stored, identity.info().clone(), &ders, false),
                Err(IdentityError::KeyMismatch { .. }) => {
                    let der = ders.first().cloned().ok_or(IdentityError::NoCertificate)?;
                    let info = CertificateInfo::from_der(&der)?;
                    finish(stored, info, &ders, true)
                }
                Err(e) => Err(e.into()),
            }
        }
        CertSource::Pem { cert_path, key_path } => {
            let cert_pem = read(cert_path)?;
            let key_pem = zeroize::Zeroizing::new(read(key_path)?);
            let ders: Vec<Vec<u8>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
                .filter_map(Result::ok)
                .map(|c| c.as_ref().to_vec())
                .collect();
            let stored = StoredCertificate::Pem {
                cert_pem: String::from_utf8_lossy(&cert_pem).into_owned(),
                key_pem: String::from_utf8_lossy(&key_pem).into_owned(),
            };
            match ClientIdentity::from_pem(&cert_pem, &key_pem) {
                Ok(identity) => finish(stored, identity.info().clone(), &ders, false),
                Err(IdentityError::KeyMismatch { .. }) => {
                    let der = ders.first().cloned().ok_or(IdentityError::NoCertificate)?;
                    let info = CertificateInfo::from_der(&der)?;
                    finish(stored, info, &ders, true)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn finish(
    stored: StoredCertificate,
    info: CertificateInfo,
    ders: &[Vec<u8>],
    key_mismatch: bool,
) -> CoreResult<LoadedCertificate> {
    let leaf_der = ders
        .iter()
        .find(|d| {
            CertificateInfo::from_der(d).is_ok_and(|i| i.serial_hex == info.serial_hex && i.subject == info.subject)
        })
        .cloned()
        .ok_or_else(|| CoreError::Internal("certificate: leaf not found among the certificates".into()))?;
    Ok(LoadedCertificate { stored, info, leaf_der, key_mismatch })
}

/// The contract's `CertificateInfo` with its warnings, at `now`.
pub fn certificate_view(
    info: &CertificateInfo,
    mch_id: &str,
    key_mismatch: bool,
    now: DateTime<Utc>,
    locale: Locale,
) -> CertificateView {
    let days = info.days_until_expiry(now);
    let mut warnings = Vec::new();
    let mut warn = |code: &'static str, msg: Msg| warnings.push(CertWarning { code, message: msg.pick(locale) });
    if key_mismatch {
        warn(
            "key_mismatch",
            certificate_msg(&IdentityError::KeyMismatch {
                subject: info.subject.clone(),
                serial_hex: info.serial_hex.clone(),
            }),
        );
    }
    if now > info.not_after {
        warn(
            "expired",
            certificate_msg(&IdentityError::Expired { serial_hex: info.serial_hex.clone(), not_after: info.not_after }),
        );
    } else if now < info.not_before {
        warn(
            "not_yet_valid",
            certificate_msg(&IdentityError::NotYetValid {
                serial_hex: info.serial_hex.clone(),
                not_before: info.not_before,
            }),
        );
    } else if days <= EXPIRES_SOON_DAYS {
        warn(
            "expires_soon",
            Msg::new(
                format!("证书将在 {days} 天后（{}）过期：请尽快在商户平台申请新证书，过期后无法退款。", info.not_after.format("%Y-%m-%d")),
                format!("The certificate expires in {days} days ({}): apply for a new one in the merchant platform soon; refunds stop when it expires.", info.not_after.format("%Y-%m-%d")),
            ),
        );
    }
    if !info.subject_contains_mch_id(mch_id) {
        warn(
            "mch_id_not_in_subject",
            Msg::new(
                format!("证书主题中没有商户号 {}：这张证书可能属于另一个商户号。", mch_id.trim()),
                format!(
                    "The merchant id {} is not in the certificate's subject: it may belong to another merchant.",
                    mch_id.trim()
                ),
            ),
        );
    }
    CertificateView {
        subject: info.subject.clone(),
        issuer: info.issuer.clone(),
        serial_hex: info.serial_hex.clone(),
        not_before: rfc3339(info.not_before),
        not_after: rfc3339(info.not_after),
        days_until_expiry: days,
        warnings,
    }
}

/// `setup_inspect_certificate`.
pub fn inspect_certificate(
    source: &CertSource,
    mch_id: &str,
    now: DateTime<Utc>,
    locale: Locale,
) -> CoreResult<CertificateView> {
    let loaded = load_certificate(source, mch_id)?;
    Ok(certificate_view(&loaded.info, mch_id, loaded.key_mismatch, now, locale))
}

/// Checks the merchant ids and the API key as typed.
pub fn merchant(input: &MerchantInput, api_key: &str) -> CoreResult<Merchant> {
    let appid = AppId::new(input.appid.trim()).map_err(|_| {
        CoreError::invalid(
            "appid 格式不正确（例如 wx2421b1c4370ec43b）。",
            "The appid is not valid (e.g. wx2421b1c4370ec43b).",
        )
    })?;
    let mch_id = MchId::new(input.mch_id.trim()).map_err(|_| {
        CoreError::invalid("商户号 mch_id 格式不正确（数字）。", "The merchant id (mch_id) is not valid (digits).")
    })?;
    if api_key.chars().count() != 32 || !api_key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CoreError::invalid(
            "API 密钥应为 32 位字母和数字（商户平台 账户中心 → API安全）。",
            "The API key is 32 letters and digits (merchant platform, 账户中心 → API安全).",
        ));
    }
    Ok(Merchant { appid, mch_id, key: ApiKey::new(api_key), sign_type: input.sign_type })
}

/// Where calls go: WeChat Pay, or the sandbox with its CA.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    pub backup_base_url: Option<String>,
    pub ca_pem: Option<Vec<u8>>,
}

impl Endpoint {
    /// WeChat Pay itself (public roots only, the backup host on connection failures).
    pub fn wechat() -> Endpoint {
        Endpoint {
            base_url: wxpay::client::DEFAULT_BASE_URL.to_string(),
            backup_base_url: Some(wxpay::client::BACKUP_BASE_URL.to_string()),
            ca_pem: None,
        }
    }

    /// The sandbox: its URL and CA file.
    pub fn sandbox(endpoint: &SandboxEndpoint) -> CoreResult<Endpoint> {
        let ca_pem = std::fs::read(&endpoint.ca_path).map_err(|e| {
            CoreError::not_found(
                format!("找不到沙箱的 CA 证书 {}：{e}。请先启动 wxpay-sim。", endpoint.ca_path),
                format!(
                    "The sandbox's CA certificate {} cannot be read: {e}. Start wxpay-sim first.",
                    endpoint.ca_path
                ),
            )
        })?;
        Ok(Endpoint { base_url: endpoint.base_url.clone(), backup_base_url: None, ca_pem: Some(ca_pem) })
    }

    /// The transport to this endpoint with an optional API certificate.
    pub fn transport(
        &self,
        identity: Option<ClientIdentity>,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> CoreResult<HttpTransport> {
        let config = ClientConfig {
            base_url: self.base_url.clone(),
            backup_base_url: self.backup_base_url.clone(),
            extra_root_ca_pem: self.ca_pem.clone(),
            identity,
            connect_timeout,
            timeout,
        };
        Ok(HttpTransport::new(config)?)
    }
}

/// A made-up out_trade_no no shop would use: `PDCHECK` + 25 random letters and digits.
fn probe_out_trade_no() -> CoreResult<OutTradeNo> {
    let tail: String = rand::thread_rng().sample_iter(&Alphanumeric).take(25).map(char::from).collect();
    OutTradeNo::new(format!("PDCHECK{tail}")).map_err(|e| CoreError::Internal(e.to_string()))
}

/// One orderquery for a made-up order: `Ok(())` when WeChat answered ORDERNOTEXIST with a valid signature.
async fn probe(transport: &HttpTransport, merchant: &Merchant, mtls: bool) -> Result<(), wxpay::Error> {
    let request =
        OrderQuery::by_out_trade_no(probe_out_trade_no().map_err(|e| wxpay::Error::InvalidRequest(e.to_string()))?);
    let (body, sign_type) = request_body(&request, merchant, &wxpay::api::new_nonce())?;
    let reply = transport.post_to_path(OrderQuery::API.path(), body, mtls).await?;
    // handle_reply verifies the signature before it looks at result_code, so a business error is a signed one.
    match handle_reply::<OrderQuery>(&reply, sign_type, &merchant.key) {
        Err(wxpay::Error::Business { err_code: ErrCode::OrderNotExist, .. }) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Err(wxpay::Error::Business {
            err_code: ErrCode::Unknown("ORDER_EXISTS".into()),
            err_code_des: "an order with a made-up number exists".into(),
            retry: wxpay::RetryClass::Never,
        }),
    }
}

/// `setup_test_connection`: a signed orderquery for an order that does not exist must come back ORDERNOTEXIST with
/// a valid reply signature. With a certificate, the same query is sent once more over mutual TLS, so a certificate
/// the server refuses at the handshake is found now rather than at the first refund.
pub async fn test_connection(
    merchant: &Merchant,
    certificate: Option<&LoadedCertificate>,
    endpoint: &Endpoint,
    timeouts: (Duration, Duration),
    locale: Locale,
) -> ConnectionTest {
    let started = Instant::now();
    let done = |code: &'static str, msg: Msg| ConnectionTest {
        ok: code == "ok",
        code,
        message: msg.pick(locale),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let identity = match certificate {
        None => None,
        Some(c) if c.key_mismatch => {
            let e =
                IdentityError::KeyMismatch { subject: c.info.subject.clone(), serial_hex: c.info.serial_hex.clone() };
            return done("certificate", certificate_msg(&e));
        }
        Some(c) => match c.stored.identity() {
            Ok(identity) => Some(identity),
            Err(e) => return done("certificate", Msg::new(e.message(Locale::ZhCn), e.message(Locale::En))),
        },
    };
    let has_certificate = identity.is_some();
    let transport = match endpoint.transport(identity, timeouts.0, timeouts.1) {
        Ok(t) => t,
        Err(e) => return done(e.code_for_connection(), Msg::new(e.message(Locale::ZhCn), e.message(Locale::En))),
    };
    if let Err(e) = probe(&transport, merchant, false).await {
        let (problem, msg) = explain_wechat(&e);
        return done(problem.connection_code(), msg);
    }
    if has_certificate {
        if let Err(e) = probe(&transport, merchant, true).await {
            let (problem, msg) = explain_wechat(&e);
            let problem = match problem {
                // The plain query worked, so a TLS failure now is about our certificate.
                WeChatProblem::Tls => WeChatProblem::Certificate,
                other => other,
            };
            return done(problem.connection_code(), msg);
        }
        done(
            "ok",
            Msg::new(
                "连接正常：微信支付回答“订单不存在”，签名有效；API 证书可以使用。",
                "Connection works: WeChat Pay answered \"order does not exist\" with a valid signature, and the API certificate is accepted.",
            ),
        )
    } else {
        done(
            "ok",
            Msg::new(
                "连接正常：微信支付回答“订单不存在”，签名有效。未设置 API 证书：退款需要它。",
                "Connection works: WeChat Pay answered \"order does not exist\" with a valid signature. No API certificate is set up: refunds need one.",
            ),
        )
    }
}

impl CoreError {
    /// The `ConnectionTest.code` for an error met before anything was sent.
    fn code_for_connection(&self) -> &'static str {
        match self.code() {
            "tls" => "tls",
            "certificate" => "certificate",
            "not_found" => "unreachable",
            _ => "protocol",
        }
    }
}

/// How to find the local sandbox. Every field falls back to an environment variable, then to wxpay-sim's defaults.
#[derive(Debug, Clone, Default)]
pub struct SandboxLocator {
    /// wxpay-sim's data directory (`PAYDESK_SANDBOX_DIR`; default: `target/wxpay-sim` in the working directory or
    /// one of its parents, where `cargo run -p wxpay-sim` puts it).
    pub data_dir: Option<PathBuf>,
    /// Its base URL (`PAYDESK_SANDBOX_URL`; default `https://127.0.0.1:8443`).
    pub base_url: Option<String>,
    /// A wxpay-sim TOML config holding the sandbox merchants' keys (`PAYDESK_SANDBOX_CONFIG`; default
    /// `<data_dir>/wxpay-sim.toml` when present, and the keys of wxpay-sim's sample config).
    pub config_file: Option<PathBuf>,
    /// The admin API's bearer token, when the simulator requires one (`PAYDESK_SANDBOX_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
}

/// The simulator's default listen address (wxpay-sim README).
pub const SANDBOX_DEFAULT_URL: &str = "https://127.0.0.1:8443";

/// The merchants of `crates/wxpay-sim/wxpay-sim.sample.toml`: sandbox keys, public by design.
const SAMPLE_KEYS: &[(&str, &str)] =
    &[("1900000109", "sandbox0key0for0paydesk0demo0001"), ("1900000110", "sandbox0key0for0paydesk0demo0002")];

impl SandboxLocator {
    /// From `PAYDESK_SANDBOX_DIR`, `PAYDESK_SANDBOX_URL`, `PAYDESK_SANDBOX_CONFIG`, `PAYDESK_SANDBOX_ADMIN_TOKEN`.
    pub fn from_env() -> SandboxLocator {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        SandboxLocator {
            data_dir: var("PAYDESK_SANDBOX_DIR").map(PathBuf::from),
            base_url: var("PAYDESK_SANDBOX_URL"),
            config_file: var("PAYDESK_SANDBOX_CONFIG").map(PathBuf::from),
            admin_token: var("PAYDESK_SANDBOX_ADMIN_TOKEN"),
        }
    }

    fn candidate_dirs(&self) -> Vec<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return vec![dir.clone()];
        }
        let mut dirs = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            for ancestor in cwd.ancestors() {
                dirs.push(ancestor.join("target").join("wxpay-sim"));
            }
        }
        dirs
    }
}

/// A running sandbox found on this computer: what the wizard fills in, and the key it verified.
#[derive(Debug, Clone)]
pub struct FoundSandbox {
    pub defaults: SandboxDefaults,
    pub endpoint: SandboxEndpoint,
}

fn sandbox_missing(zh: String, en: String) -> CoreError {
    CoreError::not_found(zh, en)
}

#[derive(serde::Deserialize)]
struct SimInfo {
    #[serde(default)]
    merchants: Vec<SimMerchant>,
}

#[derive(serde::Deserialize)]
struct SimMerchant {
    mch_id: String,
    appid: String,
}

#[derive(serde::Deserialize)]
struct SimToml {
    #[serde(default)]
    merchants: Vec<SimTomlMerchant>,
}

#[derive(serde::Deserialize)]
struct SimTomlMerchant {
    mch_id: String,
    key: String,
}

fn known_keys(locator: &SandboxLocator, dir: &Path) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let files = [locator.config_file.clone(), Some(dir.join("wxpay-sim.toml"))];
    for file in files.into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(&file) {
            match toml::from_str::<SimToml>(&text) {
                Ok(config) => keys.extend(config.merchants.into_iter().map(|m| (m.mch_id, m.key))),
                // Not the parser's message: it quotes the offending line, which may hold a key.
                Err(_) => tracing::warn!(file = %file.display(), "sandbox config is not valid TOML; ignored"),
            }
        }
    }
    keys.extend(SAMPLE_KEYS.iter().map(|(m, k)| ((*m).to_string(), (*k).to_string())));
    keys
}

/// `setup_sandbox_defaults`: finds wxpay-sim's data directory (its CA), checks that a simulator using that CA
/// answers at the base URL, picks the first of its merchants whose key is known and verified by a signed
/// orderquery, and finds (or has the simulator issue) that merchant's `apiclient_cert.p12`.
pub async fn discover_sandbox(locator: &SandboxLocator, timeouts: (Duration, Duration)) -> CoreResult<FoundSandbox> {
    let dirs = locator.candidate_dirs();
    let Some(dir) = dirs.iter().find(|d| d.join("ca").join("ca_cert.pem").is_file()).cloned() else {
        let looked = dirs.first().map(|d| d.display().to_string()).unwrap_or_default();
        return Err(sandbox_missing(
            format!("没有找到本机的 wxpay-sim 沙箱（{looked} 下没有 ca/ca_cert.pem）：请先启动 wxpay-sim，或设置 PAYDESK_SANDBOX_DIR。"),
            format!("No local wxpay-sim sandbox found (no ca/ca_cert.pem under {looked}): start wxpay-sim first, or set PAYDESK_SANDBOX_DIR."),
        ));
    };
    let ca_path = std::fs::canonicalize(dir.join("ca").join("ca_cert.pem")).map_err(|e| CoreError::io(&dir, e))?;
    let ca_pem = std::fs::read(&ca_path).map_err(|e| CoreError::io(&ca_path, e))?;
    let base_url = locator.base_url.clone().unwrap_or_else(|| SANDBOX_DEFAULT_URL.to_string());
    let base_url = base_url.trim_end_matches('/').to_string();
    let not_running = || {
        sandbox_missing(
            format!("没有在 {base_url} 找到正在运行的 wxpay-sim：请先启动它（cargo run -p wxpay-sim），或设置 PAYDESK_SANDBOX_URL。"),
            format!("No wxpay-sim is running at {base_url}: start it (cargo run -p wxpay-sim), or set PAYDESK_SANDBOX_URL."),
        )
    };
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).map_err(|_| not_running())?)
        .connect_timeout(timeouts.0)
        .timeout(timeouts.1)
        .build()
        .map_err(|e| CoreError::Internal(format!("sandbox client: {e}")))?;
    let admin = |req: reqwest::RequestBuilder| match &locator.admin_token {
        Some(token) => req.bearer_auth(token),
        None => req,
    };
    let info = admin(http.get(format!("{base_url}/admin/info"))).send().await.map_err(|_| not_running())?;
    if !info.status().is_success() {
        return Err(not_running());
    }
    let info: SimInfo =
        serde_json::from_slice(&info.bytes().await.map_err(|_| not_running())?).map_err(|_| not_running())?;

    let endpoint = SandboxEndpoint { base_url: base_url.clone(), ca_path: ca_path.display().to_string() };
    let transport = Endpoint::sandbox(&endpoint)?.transport(None, timeouts.0, timeouts.1)?;
    let keys = known_keys(locator, &dir);
    let mut chosen = None;
    'merchants: for m in &info.merchants {
        for (mch_id, key) in keys.iter().filter(|(mch, _)| *mch == m.mch_id) {
            let input = MerchantInput { appid: m.appid.clone(), mch_id: mch_id.clone(), sign_type: SignType::Md5 };
            let Ok(merchant) = merchant(&input, key) else { continue };
            if probe(&transport, &merchant, false).await.is_ok() {
                chosen = Some((input, key.clone()));
                break 'merchants;
            }
        }
    }
    let Some((input, key)) = chosen else {
        return Err(sandbox_missing(
            "沙箱正在运行，但不知道它的商户 API 密钥：请用 wxpay-sim 的示例配置启动它，或设置 PAYDESK_SANDBOX_CONFIG 指向它的配置文件。".into(),
            "The sandbox is running, but none of its merchants' API keys is known: start it with wxpay-sim's sample config, or point PAYDESK_SANDBOX_CONFIG at its config file.".into(),
        ));
    };

    let p12_path = sandbox_p12(&http, &admin, &base_url, &dir, &input.mch_id).await?;
    Ok(FoundSandbox {
        defaults: SandboxDefaults {
            base_url: base_url.clone(),
            ca_path: endpoint.ca_path.clone(),
            merchant: input,
            api_key_hint: key,
            p12_path: p12_path.display().to_string(),
        },
        endpoint,
    })
}

/// `<data_dir>/certs/<mch_id>/apiclient_cert.p12` when it opens with the mch_id as password and was issued by this
/// CA; otherwise the simulator issues a new one there through its admin API.
async fn sandbox_p12(
    http: &reqwest::Client,
    admin: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    base_url: &str,
    dir: &Path,
    mch_id: &str,
) -> CoreResult<PathBuf> {
    let path = dir.join("certs").join(mch_id).join("apiclient_cert.p12");
    let usable = std::fs::read(&path)
        .ok()
        .and_then(|bytes| ClientIdentity::from_pkcs12(&bytes, mch_id).ok())
        .is_some_and(|id| id.check_validity(Utc::now()).is_ok());
    if usable {
        return Ok(std::fs::canonicalize(&path).unwrap_or(path));
    }
    let failed = || {
        CoreError::not_found(
            "沙箱无法签发 API 证书：请检查 wxpay-sim 的日志。",
            "The sandbox could not issue an API certificate: check wxpay-sim's log.",
        )
    };
    let reply = admin(http.post(format!("{base_url}/admin/merchants/{mch_id}/certificate")))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|_| failed())?;
    if !reply.status().is_success() {
        return Err(failed());
    }
    let body: serde_json::Value =
        serde_json::from_slice(&reply.bytes().await.map_err(|_| failed())?).map_err(|_| failed())?;
    let issued = body["files"]
        .as_array()
        .and_then(|files| files.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".p12")))
        .map(PathBuf::from)
        .ok_or_else(failed)?;
    Ok(std::fs::canonicalize(&issued).unwrap_or(issued))
}
