//! The receiver's one error type and how it becomes an HTTP answer: JSON `{ code, message, fields }` on the shop
//! API, WeChat's FAIL XML on the notification paths. Internals (SQL, paths, ledger messages) are logged here and
//! never sent: a client sees a fixed code and a short message.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One failing input field of a shop-API request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or wrong bearer token.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// The body is not what the endpoint takes; each failing field is named.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// Refused because of what is already recorded (an out_trade_no with another amount, a reused request id).
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read or parsed at all.
    #[error("{0}")]
    BadRequest(String),
    /// The database cannot do the work now; try again later.
    #[error("database unavailable")]
    Unavailable,
    /// A bug or an unexpected database answer; details are in the log only.
    #[error("internal error")]
    Internal,
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized => "UNAUTHORIZED",
            Error::Invalid(_) => "INVALID",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict(_) => "CONFLICT",
            Error::TooLarge(_) => "TOO_LARGE",
            Error::BadRequest(_) => "BAD_REQUEST",
            Error::Unavailable => "UNAVAILABLE",
            Error::Internal => "INTERNAL",
        }
    }

    /// WeChat's FAIL acknowledgement with this error's code as the reason, and the HTTP status.
    pub fn to_wechat(&self) -> Response {
        wechat_reply(self.status(), &wxpay::notify::ack_fail(self.code()))
    }
}

/// Ledger failures: refusals the caller can act on keep their meaning, the rest is logged and hidden.
impl From<ledger::Error> for Error {
    fn from(e: ledger::Error) -> Error {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            return Error::Unavailable;
        }
        match e {
            ledger::Error::NotFound { what, key } => Error::NotFound(format!("{what} {key} not found")),
            ledger::Error::Duplicate(message) => Error::Conflict(message),
            ledger::Error::NotRefundable { reason, .. } => Error::invalid("amount", reason),
            ledger::Error::TooSoon(message) => Error::Conflict(message),
            ledger::Error::InvalidTransition(t) => Error::Conflict(t.to_string()),
            other => {
                tracing::error!(error = %other, "ledger error");
                Error::Internal
            }
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let fields: &[FieldError] = match &self {
            Error::Invalid(fields) => fields,
            _ => &[],
        };
        let body = Body { code: self.code(), message: self.to_string(), fields };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if matches!(self, Error::Unauthorized) {
            if let Ok(v) = header::HeaderValue::from_str("Bearer") {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

/// An XML answer to WeChat.
pub fn wechat_reply(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internals_are_hidden_and_refusals_keep_their_meaning() {
        let e = Error::from(ledger::Error::Corrupt("SELECT secret FROM x".into()));
        assert!(matches!(e, Error::Internal));
        assert_eq!(e.to_string(), "internal error");
        let e = Error::from(ledger::Error::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let e = Error::from(ledger::Error::NotRefundable { order: 1, requested: 5, reason: "the order is not paid" });
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
