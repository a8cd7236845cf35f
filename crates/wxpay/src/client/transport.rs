//! [`HttpTransport`]: POSTs one XML body to WeChat Pay and returns the reply bytes, nothing more (no
//! signing, no parsing). It owns the TLS setup (public webpki roots, plus the simulator's CA only when
//! configured; no way to switch verification off), the two connection pools (plain, and mutual TLS with
//! the API certificate), the backup-host rule (§1), and the mapping of reqwest's errors to
//! [`TransportError`] by walking their source chain.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{AlertDescription, CertificateError, RootCertStore};

use super::identity::{CertificateInfo, ClientIdentity, IdentityError};
use super::TransportError;
use crate::error::Api;

/// The production API host (§1).
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// WeChat's cross-city backup host, same paths (§1).
pub const BACKUP_BASE_URL: &str = "https://api2.mch.weixin.qq.com";

/// How to reach WeChat Pay (or the simulator).
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://host[:port][/prefix]`; paths from §2 are appended.
    pub base_url: String,
    /// Tried only when `base_url` could not be connected to. `None` for the sandbox.
    pub backup_base_url: Option<String>,
    /// One or more PEM CA certificates trusted *in addition to* the public roots: the simulator's CA.
    pub extra_root_ca_pem: Option<Vec<u8>>,
    /// The merchant's API certificate; without it, calls that need mutual TLS are refused locally.
    pub identity: Option<ClientIdentity>,
    /// For the TCP connection and the TLS handshake together.
    pub connect_timeout: Duration,
    /// For the whole call, connection included.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    /// Production WeChat Pay, without an API certificate.
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            backup_base_url: Some(BACKUP_BASE_URL.to_string()),
            extra_root_ca_pem: None,
            identity: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

impl ClientConfig {
    /// The simulator (or any private endpoint): its own CA trusted on top of the public roots, no
    /// backup host.
    pub fn sandbox(base_url: impl Into<String>, ca_pem: Vec<u8>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            backup_base_url: None,
            extra_root_ca_pem: Some(ca_pem),
            ..ClientConfig::default()
        }
    }
}

/// Written by hand: the identity prints without its key, and a CA bundle prints as its size.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("backup_base_url", &self.backup_base_url)
            .field("extra_root_ca_pem", &self.extra_root_ca_pem.as_ref().map(|p| format!("<{} bytes>", p.len())))
            .field("identity", &self.identity)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a transport could not be built from a [`ClientConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid API address {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the extra CA certificate cannot be used: {reason}")]
    ExtraRootCa { reason: String },
    #[error("API certificate: {0}")]
    Identity(#[from] IdentityError),
    #[error("the HTTPS client could not be set up: {reason}")]
    Setup { reason: String },
}

/// A cheap-to-clone handle on the connection pools; clones share them.
#[derive(Clone)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    plain: reqwest::Client,
    /// Present exactly when an identity is configured. A separate pool so that the certificate is
    /// presented only where §2 requires it, and a plain call never reuses a mutual-TLS connection.
    mtls: Option<reqwest::Client>,
    certificate: Option<CertificateInfo>,
    base_url: String,
    backup_base_url: Option<String>,
    connect_timeout: Duration,
    timeout: Duration,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base_url", &self.inner.base_url)
            .field("backup_base_url", &self.inner.backup_base_url)
            .field("certificate", &self.inner.certificate.as_ref().map(|c| &c.serial_hex))
            .finish()
    }
}

impl HttpTransport {
    /// Builds the pools; refuses an API certificate that is not valid now.
    pub fn new(config: ClientConfig) -> Result<Self, ConfigError> {
        Self::new_at(config, Utc::now())
    }

    /// [`HttpTransport::new`] with the clock as an argument.
    pub fn new_at(config: ClientConfig, now: DateTime<Utc>) -> Result<Self, ConfigError> {
        let base_url = check_base_url(&config.base_url)?;
        let backup_base_url = config.backup_base_url.as_deref().map(check_base_url).transpose()?;
        let roots = Arc::new(root_store(config.extra_root_ca_pem.as_deref())?);

        let build = |identity: Option<&ClientIdentity>| -> Result<reqwest::Client, ConfigError> {
            reqwest::Client::builder()
                .use_preconfigured_tls(tls_config(roots.clone(), identity)?)
                .https_only(true)
                // A redirected POST would be a different request; WeChat does not redirect API calls.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                .user_agent(concat!("paydesk-wxpay/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| ConfigError::Setup { reason: error_chain_text(&e) })
        };

        let (mtls, certificate) = match &config.identity {
            Some(identity) => {
                identity.check_validity(now)?;
                (Some(build(Some(identity))?), Some(identity.info().clone()))
            }
            None => (None, None),
        };
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                plain: build(None)?,
                mtls,
                certificate,
                base_url,
                backup_base_url,
                connect_timeout: config.connect_timeout,
                timeout: config.timeout,
            }),
        })
    }

    /// The configured API certificate, if any.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        self.inner.certificate.as_ref()
    }

    /// POSTs `body` (an `<xml>` document) to `api`, with the API certificate when §2 requires it.
    pub async fn post(&self, api: Api, body: String) -> Result<Bytes, TransportError> {
        self.post_to_path(api.path(), body, api.needs_client_certificate()).await
    }

    /// [`HttpTransport::post`] for a reply that may be large (a bill): `progress(bytes so far, Content-Length)` is
    /// called as the body arrives.
    pub async fn post_with_progress(
        &self,
        api: Api,
        body: String,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<Bytes, TransportError> {
        let path = api.path();
        let client = self.client_for(path, api.needs_client_certificate())?;
        let body = Bytes::from(body);
        let primary = format!("{}{path}", self.inner.base_url);
        match self.send_with_progress(client, &primary, body.clone(), progress).await {
            Err(TransportError::Connect { url, reason }) => match &self.inner.backup_base_url {
                Some(backup) => self.send_with_progress(client, &format!("{backup}{path}"), body, progress).await,
                None => Err(TransportError::Connect { url, reason }),
            },
            other => other,
        }
    }

    async fn send_with_progress(
        &self,
        client: &reqwest::Client,
        url: &str,
        body: Bytes,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<Bytes, TransportError> {
        let mut response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| self.classify(&e, url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(TransportError::Status { url: url.to_string(), status: status.as_u16() });
        }
        let total = response.content_length();
        let mut out = Vec::with_capacity(total.and_then(|t| usize::try_from(t).ok()).unwrap_or(0).min(64 << 20));
        progress(0, total);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e, url))? {
            out.extend_from_slice(&chunk);
            progress(u64::try_from(out.len()).unwrap_or(u64::MAX), total);
        }
        Ok(Bytes::from(out))
    }

    /// The pool for `path`: the mutual-TLS one when `mtls` (refused without a usable certificate).
    fn client_for(&self, path: &str, mtls: bool) -> Result<&reqwest::Client, TransportError> {
        if !path.starts_with('/') {
            return Err(TransportError::Other(format!("API path {path:?} must start with '/'")));
        }
        if !mtls {
            return Ok(&self.inner.plain);
        }
        let Some(client) = &self.inner.mtls else {
            return Err(TransportError::MissingCertificate { path: path.to_string() });
        };
        if let Some(certificate) = &self.inner.certificate {
            certificate.check_validity(Utc::now()).map_err(TransportError::Certificate)?;
        }
        Ok(client)
    }

    /// POSTs `body` to `path` on the API host, with the API certificate when `mtls`.
    ///
    /// The backup host is tried only after a [`TransportError::Connect`] from the primary: then
    /// nothing was sent. After a timeout, a broken connection or any reply, the primary may have
    /// acted (a refund may have been accepted), so the error is returned for the caller to retry with
    /// the same ids.
    pub async fn post_to_path(&self, path: &str, body: String, mtls: bool) -> Result<Bytes, TransportError> {
        if !path.starts_with('/') {
            return Err(TransportError::Other(format!("API path {path:?} must start with '/'")));
        }
        let client = if mtls {
            let Some(client) = &self.inner.mtls else {
                return Err(TransportError::MissingCertificate { path: path.to_string() });
            };
            // WeChat would refuse an expired certificate with a bare TLS alert; say why instead.
            if let Some(certificate) = &self.inner.certificate {
                certificate.check_validity(Utc::now()).map_err(TransportError::Certificate)?;
            }
            client
        } else {
            &self.inner.plain
        };
        let body = Bytes::from(body);
        let primary = format!("{}{path}", self.inner.base_url);
        match self.send(client, &primary, body.clone()).await {
            Err(TransportError::Connect { url, reason }) => match &self.inner.backup_base_url {
                Some(backup) => self.send(client, &format!("{backup}{path}"), body).await,
                None => Err(TransportError::Connect { url, reason }),
            },
            other => other,
        }
    }

    async fn send(&self, client: &reqwest::Client, url: &str, body: Bytes) -> Result<Bytes, TransportError> {
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| self.classify(&e, url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(TransportError::Status { url: url.to_string(), status: status.as_u16() });
        }
        response.bytes().await.map_err(|e| self.classify(&e, url))
    }

    /// Tells the failure apart from the error's source chain: a rustls error anywhere means TLS
    /// (even when reqwest calls it a connect error, since its connector includes the handshake); a
    /// timeout while connecting is a connection failure (nothing sent); any other timeout is a
    /// [`TransportError::Timeout`].
    fn classify(&self, err: &reqwest::Error, url: &str) -> TransportError {
        let url = url.to_string();
        if let Some(tls) = find_in_chain::<rustls::Error>(err) {
            return tls_error(tls, url);
        }
        if err.is_timeout() {
            if err.is_connect() {
                let seconds = self.inner.connect_timeout.as_secs_f32();
                return TransportError::Connect { url, reason: format!("no connection within {seconds} s") };
            }
            return TransportError::Timeout { url, seconds: self.inner.timeout.as_secs() };
        }
        if err.is_connect() {
            let reason = match find_in_chain::<std::io::Error>(err).map(std::io::Error::kind) {
                Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
                _ => innermost_text(err),
            };
            return TransportError::Connect { url, reason };
        }
        if err.is_builder() || err.is_redirect() {
            return TransportError::Other(error_chain_text(err));
        }
        TransportError::Interrupted { url, reason: innermost_text(err) }
    }
}

/// The public roots (webpki-roots, the same on every OS) plus the configured extra CA.
fn root_store(extra_ca_pem: Option<&[u8]>) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(pem) = extra_ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::ExtraRootCa { reason: e.to_string() })?;
        if certs.is_empty() {
            return Err(ConfigError::ExtraRootCa { reason: "no PEM certificate found".into() });
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ConfigError::ExtraRootCa { reason: e.to_string() })?;
        }
    }
    Ok(roots)
}

/// Our own rustls config, handed to reqwest whole, so that the provider (ring) and the roots do not
/// depend on reqwest's feature flags or on a process-wide default someone else installed.
fn tls_config(
    roots: Arc<RootCertStore>,
    identity: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, ConfigError> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Setup { reason: e.to_string() })?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => {
            let (chain, key) = identity.chain_and_key();
            // rustls' message here names the problem (e.g. key/certificate mismatch), never the key.
            builder.with_client_auth_cert(chain, key).map_err(|e| ConfigError::Setup { reason: e.to_string() })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn check_base_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl { url: url.to_string(), reason: reason.to_string() };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "https" {
        return Err(invalid("WeChat Pay is only reached over https://"));
    }
    if parsed.host_str().is_none() {
        return Err(invalid("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(invalid("only scheme, host, port and a path prefix are allowed"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// A sentence for the person at the counter, from what rustls reported.
fn tls_error(err: &rustls::Error, url: String) -> TransportError {
    let server_certificate = |reason: &str| TransportError::Tls { url: url.clone(), reason: reason.to_string() };
    match err {
        rustls::Error::InvalidCertificate(cert_err) => match cert_err {
            CertificateError::UnknownIssuer => server_certificate(
                "the server's certificate is not issued by a trusted authority (for the simulator, configure its CA certificate)",
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                server_certificate("the server's certificate is not valid for this host name")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                server_certificate("the server's certificate has expired, or this computer's clock is wrong")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                server_certificate("the server's certificate is not valid yet, or this computer's clock is wrong")
            }
            other => TransportError::Tls { url, reason: format!("the server's certificate was rejected: {other:?}") },
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired => TransportError::ClientCertificateRefused {
                url,
                reason: "the server requires the API certificate and none was sent".to_string(),
            },
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied => TransportError::ClientCertificateRefused {
                url,
                reason: format!("the server did not accept it (TLS alert {alert:?})"),
            },
            other => TransportError::Tls { url, reason: format!("the server ended the handshake (TLS alert {other:?})") },
        },
        other => TransportError::Tls { url, reason: other.to_string() },
    }
}

/// The first `T` in the source chain, looking inside `io::Error`s too: their `source()` skips the
/// error they wrap, and that is where tokio-rustls puts the rustls error.
fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(wrapped) = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            if let Some(found) = find_in_chain::<T>(wrapped) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

fn innermost_text(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn error_chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_must_be_https_without_extras() {
        assert_eq!(check_base_url("https://api.mch.weixin.qq.com/").unwrap(), "https://api.mch.weixin.qq.com");
        assert_eq!(check_base_url("https://127.0.0.1:8443/sandboxnew").unwrap(), "https://127.0.0.1:8443/sandboxnew");
        assert!(check_base_url("http://api.mch.weixin.qq.com").is_err());
        assert!(check_base_url("https://api.mch.weixin.qq.com/?a=1").is_err());
        assert!(check_base_url("api.mch.weixin.qq.com").is_err());
    }

    #[test]
    fn certificate_alerts_blame_the_api_certificate_and_issuer_errors_the_server() {
        let url = || "https://x".to_string();
        assert!(matches!(
            tls_error(&rustls::Error::AlertReceived(AlertDescription::CertificateRequired), url()),
            TransportError::ClientCertificateRefused { .. }
        ));
        assert!(matches!(
            tls_error(&rustls::Error::AlertReceived(AlertDescription::UnknownCA), url()),
            TransportError::ClientCertificateRefused { .. }
        ));
        assert!(matches!(
            tls_error(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer), url()),
            TransportError::Tls { .. }
        ));
        assert!(matches!(
            tls_error(&rustls::Error::AlertReceived(AlertDescription::ProtocolVersion), url()),
            TransportError::Tls { .. }
        ));
    }

    #[test]
    fn rustls_error_is_found_inside_io_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        let outer = std::io::Error::other(io);
        assert!(find_in_chain::<rustls::Error>(&outer).is_some());
    }
}
