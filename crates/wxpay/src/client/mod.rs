//! The HTTPS client to WeChat Pay (or wxpay-sim): reqwest over rustls, WeChat's server certificate
//! always verified, the merchant's API certificate for mutual TLS on `/secapi/*` and
//! `/pay/downloadfundflow`.

/// A failure below the protocol: nothing readable came back.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("timed out after {seconds} s waiting for {url}")]
    Timeout { url: String, seconds: u64 },
    #[error("TLS failed with {url}: {reason}")]
    Tls { url: String, reason: String },
    #[error("HTTP status {status} from {url}")]
    Status { url: String, status: u16 },
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// Connection failures, timeouts and 5xx may be retried with identical parameters.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Connect { .. } | TransportError::Timeout { .. } => true,
            TransportError::Status { status, .. } => *status >= 500,
            TransportError::Tls { .. } | TransportError::Other(_) => false,
        }
    }
}
