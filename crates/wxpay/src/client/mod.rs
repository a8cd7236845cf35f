//! The HTTPS client to WeChat Pay (or wxpay-sim): reqwest over rustls, WeChat's server certificate
//! always verified, the merchant's API certificate for mutual TLS on `/secapi/*` and
//! `/pay/downloadfundflow`.
//!
//! - [`identity`]: the API certificate (PEM pair or `.p12`), its checks and the facts the setup wizard shows.
//! - [`HttpTransport`] / [`ClientConfig`]: the connection pools, hosts, timeouts, and how failures are
//!   told apart ([`TransportError`]). Why it is built this way: `docs/decisions/0003-tls-and-client-certificates.md`.

pub mod identity;
mod transport;

pub use identity::{CertificateInfo, ClientIdentity, IdentityError};
pub use transport::{ClientConfig, ConfigError, HttpTransport, BACKUP_BASE_URL, DEFAULT_BASE_URL};

/// A failure below the protocol: nothing readable came back.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing was sent: no TCP connection (refused, unreachable, no DNS answer, or none within the
    /// connect timeout). Only this error moves a call to the backup host.
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The request went out and no complete reply came in time: WeChat may have acted on it.
    #[error("timed out after {seconds} s waiting for {url}")]
    Timeout { url: String, seconds: u64 },
    /// The TLS handshake failed on our side, typically the server's certificate did not verify.
    #[error("TLS failed with {url}: {reason}")]
    Tls { url: String, reason: String },
    #[error("HTTP status {status} from {url}")]
    Status { url: String, status: u16 },
    #[error("{0}")]
    Other(String),
    /// The call needs mutual TLS (§2) and no API certificate is configured. Nothing was sent.
    #[error("{path} needs the merchant's API certificate, and none is set up: download apiclient_cert.p12 (or apiclient_cert.pem and apiclient_key.pem) from the WeChat Pay merchant platform, 账户中心 → API安全 → API证书, and add it in the settings")]
    MissingCertificate { path: String },
    /// The configured API certificate cannot be used at the time of the call (it expired while the
    /// application was running). Nothing was sent.
    #[error("API certificate: {0}")]
    Certificate(identity::IdentityError),
    /// The server refused our API certificate, or wanted one and got none: a certificate to fix, not a
    /// network problem. The server did not process the request.
    #[error("{url} refused the API certificate: {reason}")]
    ClientCertificateRefused { url: String, reason: String },
    /// The request was sent and the connection broke before the reply was complete: WeChat may have
    /// acted on it, exactly as after a timeout.
    #[error("the connection to {url} broke before the reply was complete: {reason}")]
    Interrupted { url: String, reason: String },
}

impl TransportError {
    /// Connection failures, timeouts and 5xx may be retried with identical parameters.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Connect { .. } | TransportError::Timeout { .. } => true,
            TransportError::Status { status, .. } => *status >= 500,
            TransportError::Tls { .. } | TransportError::Other(_) => false,
            // Same situation as a timeout: only a retry with the same ids tells what happened.
            TransportError::Interrupted { .. } => true,
            // A person has to change the configuration first.
            TransportError::MissingCertificate { .. }
            | TransportError::Certificate(_)
            | TransportError::ClientCertificateRefused { .. } => false,
        }
    }
}
