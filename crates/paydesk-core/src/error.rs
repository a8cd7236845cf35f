//! The one error type of paydesk-core ([`CoreError`]) and what the UI gets from it ([`UiError`]): a code from
//! the contract's short list (`docs/ui-contract.md`) and a sentence a shop owner can act on, in zh-CN or English.
//!
//! Internals never reach the message: database and I/O details are logged (without secrets) and the UI gets a
//! plain "internal error" sentence. WeChat Pay failures are explained by kind ([`explain_wechat`]): transport
//! (network, TLS, certificate), protocol (`return_code=FAIL`, e.g. a wrong API key), reply signature, business
//! (`err_code`), so that the setup wizard's connection test and every later command say the same thing.

use std::fmt;

use serde::{Deserialize, Serialize};
use wxpay::client::{ConfigError, IdentityError, TransportError};
use wxpay::ErrCode;

/// The language of messages. zh-CN is the default (ARCHITECTURE.md §1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// `zh-CN` / `zh` / `en…`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Locale> {
        match text {
            "zh-CN" | "zh" | "zh_CN" => Some(Locale::ZhCn),
            t if t == "en" || t.starts_with("en-") || t.starts_with("en_") => Some(Locale::En),
            _ => None,
        }
    }
}

/// A sentence in both languages; [`Msg::pick`] chooses one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub zh: String,
    pub en: String,
}

impl Msg {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg { zh: zh.into(), en: en.into() }
    }

    pub fn pick(&self, locale: Locale) -> String {
        match locale {
            Locale::ZhCn => self.zh.clone(),
            Locale::En => self.en.clone(),
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// What a rejected command gives the UI: `{ code, message }` (docs/ui-contract.md, "Conventions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiError {
    pub code: String,
    pub message: String,
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for UiError {}

/// Everything a paydesk-core call can fail with. `Display` is for logs (English, no secrets); the UI gets
/// [`CoreError::to_ui`].
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The vault is locked (or the app is not set up yet and the command needs it unlocked).
    #[error("the vault is locked")]
    VaultLocked,
    /// The owner password does not open the vault. Nothing was changed.
    #[error("wrong password")]
    WrongPassword,
    /// No setup has been completed in this data directory.
    #[error("not set up yet")]
    NotConfigured,
    #[error("not found: {0}")]
    NotFound(Msg),
    #[error("invalid input: {0}")]
    InvalidInput(Msg),
    /// A call to WeChat Pay (or the sandbox) failed; see [`explain_wechat`].
    #[error("WeChat Pay: {0}")]
    WeChat(#[from] wxpay::Error),
    /// The API certificate cannot be read or used.
    #[error("API certificate: {0}")]
    Certificate(#[from] IdentityError),
    /// The HTTPS client could not be built from the settings.
    #[error("client settings: {0}")]
    ClientConfig(#[from] ConfigError),
    /// WeChat said no, in words already chosen for the owner (e.g. "the order was paid meanwhile").
    #[error("WeChat Pay refused: {0}")]
    Refused(Msg),
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::Error),
    /// A file in the data directory could not be read or written.
    #[error("file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The staff login may not do this (approve, reject, send, settings).
    #[error("not allowed for the staff role")]
    Forbidden,
    /// The refund is above the owner's threshold: ask for the owner password and call again with it.
    #[error("the owner password is required for this refund")]
    PasswordRequired { amount_fen: i64, threshold_fen: i64 },
    /// A refund guard blocked the refund; the sentence names the guard and says why.
    #[error("refund blocked: {0}")]
    RefundGuard(Msg),
    /// A bug or an impossible state; details are logged, not shown.
    #[error("internal: {0}")]
    Internal(String),
}

/// Shorthand for results of this crate.
pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn invalid(zh: impl Into<String>, en: impl Into<String>) -> CoreError {
        CoreError::InvalidInput(Msg::new(zh, en))
    }

    pub fn not_found(zh: impl Into<String>, en: impl Into<String>) -> CoreError {
        CoreError::NotFound(Msg::new(zh, en))
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> CoreError {
        CoreError::Io { path: path.display().to_string(), source }
    }

    /// The contract's code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::VaultLocked => "vault_locked",
            CoreError::WrongPassword => "wrong_password",
            CoreError::NotConfigured => "not_configured",
            CoreError::NotFound(_) => "not_found",
            CoreError::InvalidInput(_) => "invalid_input",
            CoreError::WeChat(e) => explain_wechat(e).0.ui_code(),
            CoreError::Certificate(_) => "certificate",
            CoreError::ClientConfig(ConfigError::Identity(_)) => "certificate",
            CoreError::ClientConfig(ConfigError::ExtraRootCa { .. }) => "tls",
            CoreError::ClientConfig(_) => "invalid_input",
            CoreError::Refused(_) => "wechat_business",
            CoreError::Ledger(e) => match e {
                ledger::Error::NotFound { .. } => "not_found",
                ledger::Error::InvalidInput(_)
                | ledger::Error::InvalidTransition(_)
                | ledger::Error::NotRefundable { .. }
                | ledger::Error::TooSoon(_)
                | ledger::Error::Duplicate(_)
                | ledger::Error::UnsupportedUrl(_) => "invalid_input",
                _ => "internal",
            },
            CoreError::Forbidden => "forbidden",
            CoreError::PasswordRequired { .. } => "password_required",
            CoreError::RefundGuard(_) => "refund_guard",
            CoreError::Io { .. } | CoreError::Internal(_) => "internal",
        }
    }

    /// The sentence for the owner.
    pub fn message(&self, locale: Locale) -> String {
        self.msg().pick(locale)
    }

    fn msg(&self) -> Msg {
        match self {
            CoreError::VaultLocked => {
                Msg::new("已锁定：请输入店主密码解锁。", "Locked: enter the owner password to unlock.")
            }
            CoreError::WrongPassword => Msg::new(
                "密码不正确，没有做任何更改。请再试一次（注意大小写和输入法）。",
                "Wrong password; nothing was changed. Try again (check Caps Lock and the input method).",
            ),
            CoreError::NotConfigured => {
                Msg::new("尚未完成设置：请先运行设置向导。", "Paydesk is not set up yet: run the setup wizard first.")
            }
            CoreError::NotFound(m) | CoreError::InvalidInput(m) | CoreError::Refused(m) | CoreError::RefundGuard(m) => {
                m.clone()
            }
            CoreError::Forbidden => Msg::new(
                "店员账号不能做这个操作：请店主登录后处理。",
                "The staff login cannot do this: ask the owner to sign in.",
            ),
            CoreError::PasswordRequired { amount_fen, threshold_fen } => Msg::new(
                format!(
                    "这笔退款 ¥{} 超过了 ¥{}：请输入店主密码确认。",
                    wxpay::Fen(*amount_fen).to_yuan_string(),
                    wxpay::Fen(*threshold_fen).to_yuan_string()
                ),
                format!(
                    "This refund of ¥{} is above ¥{}: enter the owner password to confirm.",
                    wxpay::Fen(*amount_fen).to_yuan_string(),
                    wxpay::Fen(*threshold_fen).to_yuan_string()
                ),
            ),
            CoreError::WeChat(e) => explain_wechat(e).1,
            CoreError::Certificate(e) => certificate_msg(e),
            CoreError::ClientConfig(e) => match e {
                ConfigError::Identity(e) => certificate_msg(e),
                ConfigError::ExtraRootCa { reason } => Msg::new(
                    format!("沙箱的 CA 证书无法使用：{reason}"),
                    format!("The sandbox's CA certificate cannot be used: {reason}"),
                ),
                ConfigError::InvalidUrl { url, reason } => Msg::new(
                    format!("接口地址 {url} 不正确：{reason}"),
                    format!("The API address {url} is not valid: {reason}"),
                ),
                ConfigError::Setup { .. } => internal_msg(),
            },
            CoreError::Ledger(e) => ledger_msg(e),
            CoreError::Io { path, source } => Msg::new(
                format!("无法读写文件 {path}：{source}。请检查磁盘空间和文件权限。"),
                format!("Cannot read or write {path}: {source}. Check the disk space and the file permissions."),
            ),
            CoreError::Internal(_) => internal_msg(),
        }
    }

    /// `{ code, message }` for the UI. Internal errors are logged here, once, with their detail.
    pub fn to_ui(&self, locale: Locale) -> UiError {
        let code = self.code();
        if code == "internal" {
            tracing::error!(error = %self, "internal error reported to the UI");
        }
        UiError { code: code.to_string(), message: self.message(locale) }
    }
}

fn internal_msg() -> Msg {
    Msg::new(
        "内部错误：操作没有完成。请重试；如果问题持续，请查看日志或联系技术支持。",
        "Internal error: the operation did not complete. Try again; if it persists, check the log or ask for support.",
    )
}

fn ledger_msg(e: &ledger::Error) -> Msg {
    match e {
        ledger::Error::NotFound { what, key } => Msg::new(
            format!("账本中没有这条记录（{what} {key}）。"),
            format!("No such record in the ledger ({what} {key})."),
        ),
        ledger::Error::InvalidTransition(t) => Msg::new(
            format!("当前状态 {} 下不能这样操作。", t.from),
            format!("This is not possible while the state is {}.", t.from),
        ),
        ledger::Error::Database(_) | ledger::Error::Migrate(_) => Msg::new(
            "账本数据库无法访问：请检查数据库文件或 PostgreSQL 服务器，然后重试。",
            "The ledger database cannot be reached: check the database file or the PostgreSQL server, then try again.",
        ),
        ledger::Error::UnsupportedUrl(scheme) => Msg::new(
            format!("账本地址必须以 sqlite:// 或 postgres:// 开头（不是 {scheme}）。"),
            format!("The ledger address must start with sqlite:// or postgres:// (not {scheme})."),
        ),
        ledger::Error::Conflict(_) => Msg::new(
            "记录刚被另一个程序修改：请刷新后重试。",
            "The record was just changed by another program: refresh and try again.",
        ),
        ledger::Error::InvalidInput(_)
        | ledger::Error::Duplicate(_)
        | ledger::Error::NotRefundable { .. }
        | ledger::Error::TooSoon(_) => Msg::new(
            "账本拒绝了这次更改：输入与已有记录不一致。",
            "The ledger refused the change: it disagrees with what is recorded.",
        ),
        ledger::Error::Corrupt(_) => Msg::new(
            "账本中有无法读取的数据：请联系技术支持。",
            "The ledger holds data that cannot be read: contact support.",
        ),
    }
}

/// A plain-words explanation of an API certificate problem.
pub(crate) fn certificate_msg(e: &IdentityError) -> Msg {
    match e {
        IdentityError::Read { path, reason } => {
            Msg::new(format!("无法读取证书文件 {path}：{reason}"), format!("Cannot read the certificate file {path}: {reason}"))
        }
        IdentityError::NoCertificate => Msg::new(
            "文件里没有证书：证书文件应是 apiclient_cert.pem（以 -----BEGIN CERTIFICATE----- 开头）或 apiclient_cert.p12。",
            "No certificate in the file: use apiclient_cert.pem (it starts with -----BEGIN CERTIFICATE-----) or apiclient_cert.p12.",
        ),
        IdentityError::NoPrivateKey => Msg::new(
            "文件里没有私钥：私钥文件应是 apiclient_key.pem（以 -----BEGIN PRIVATE KEY----- 开头）。",
            "No private key in the file: the key file is apiclient_key.pem (it starts with -----BEGIN PRIVATE KEY-----).",
        ),
        IdentityError::FilesSwapped => Msg::new(
            "证书和私钥文件放反了：证书选 apiclient_cert.pem，私钥选 apiclient_key.pem。",
            "The certificate and key files are swapped: choose apiclient_cert.pem as the certificate and apiclient_key.pem as the key.",
        ),
        IdentityError::EncryptedPrivateKey => Msg::new(
            "私钥有密码保护：请使用微信支付证书工具生成的原始 apiclient_key.pem。",
            "The private key is password-protected: use apiclient_key.pem exactly as WeChat Pay's certificate tool wrote it.",
        ),
        IdentityError::UnreadableCertificate { reason } => {
            Msg::new(format!("证书无法读取：{reason}"), format!("The certificate cannot be read: {reason}"))
        }
        IdentityError::UnreadablePrivateKey => Msg::new(
            "私钥无法读取，或不是 RSA / ECDSA 私钥。",
            "The private key cannot be read, or is not an RSA or ECDSA key.",
        ),
        IdentityError::UnreadableP12 { reason } => {
            Msg::new(format!(".p12 文件无法读取：{reason}"), format!("The .p12 file cannot be read: {reason}"))
        }
        IdentityError::WrongP12Password => Msg::new(
            ".p12 文件的密码不正确（微信支付 apiclient_cert.p12 的密码是商户号 mch_id）。",
            "Wrong password for the .p12 file (the password of WeChat Pay's apiclient_cert.p12 is the merchant id, mch_id).",
        ),
        IdentityError::KeyMismatch { subject, serial_hex } => Msg::new(
            format!("私钥与证书 {subject}（序列号 {serial_hex}）不匹配：请使用与这张 apiclient_cert.pem 一起下载的 apiclient_key.pem。"),
            format!("The private key does not belong to the certificate {subject} (serial {serial_hex}): use the apiclient_key.pem downloaded together with this apiclient_cert.pem."),
        ),
        IdentityError::Expired { serial_hex, not_after } => Msg::new(
            format!("API 证书 {serial_hex} 已于 {} 过期：请在商户平台 账户中心 → API安全 → API证书 申请新证书。", not_after.format("%Y-%m-%d")),
            format!("The API certificate {serial_hex} expired on {}: apply for a new one in the merchant platform, 账户中心 → API安全 → API证书.", not_after.format("%Y-%m-%d")),
        ),
        IdentityError::NotYetValid { serial_hex, not_before } => Msg::new(
            format!("API 证书 {serial_hex} 从 {} 起才生效：请检查电脑的日期和时间。", not_before.format("%Y-%m-%d")),
            format!("The API certificate {serial_hex} is valid only from {}: check this computer's date and time.", not_before.format("%Y-%m-%d")),
        ),
    }
}

/// The kind of a WeChat Pay failure, as the connection test and the error codes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeChatProblem {
    /// The API key is wrong (WeChat said 签名错误, or its reply did not verify with our key).
    Signature,
    /// The secure connection failed: the server's certificate is not trusted (sandbox CA missing), wrong clock.
    Tls,
    /// The API certificate is missing, unusable, or refused by the server.
    Certificate,
    /// No answer: no network, connection refused, timeout, 5xx.
    Unreachable,
    /// `result_code=FAIL`: WeChat answered and said no.
    Business,
    /// Anything else WeChat refused before business logic, or a reply we cannot read.
    Protocol,
}

impl WeChatProblem {
    /// The `ConnectionTest.code` value.
    pub fn connection_code(self) -> &'static str {
        match self {
            WeChatProblem::Signature => "signature",
            WeChatProblem::Tls => "tls",
            WeChatProblem::Certificate => "certificate",
            WeChatProblem::Unreachable => "unreachable",
            WeChatProblem::Business => "wechat_business",
            WeChatProblem::Protocol => "protocol",
        }
    }

    /// The error code of a rejected command.
    pub fn ui_code(self) -> &'static str {
        match self {
            WeChatProblem::Signature => "signature",
            WeChatProblem::Tls => "tls",
            WeChatProblem::Certificate => "certificate",
            WeChatProblem::Unreachable => "wechat_unreachable",
            WeChatProblem::Business | WeChatProblem::Protocol => "wechat_business",
        }
    }
}

/// Why a call to WeChat Pay failed, in plain words.
pub fn explain_wechat(e: &wxpay::Error) -> (WeChatProblem, Msg) {
    use WeChatProblem as P;
    match e {
        wxpay::Error::Transport(t) => explain_transport(t),
        wxpay::Error::Protocol { return_msg } => {
            let lower = return_msg.to_lowercase();
            if return_msg.contains("签名") || lower.contains("sign") {
                (
                    P::Signature,
                    Msg::new(
                        format!("API 密钥不正确：微信返回签名错误（{return_msg}）。请在商户平台 账户中心 → API安全 核对 32 位 API 密钥。"),
                        format!("The API key is wrong: WeChat Pay answered with a signature error ({return_msg}). Check the 32-character API key in the merchant platform, 账户中心 → API安全."),
                    ),
                )
            } else if return_msg.contains("证书") || lower.contains("cert") {
                (
                    P::Certificate,
                    Msg::new(
                        format!("微信支付拒绝了 API 证书：{return_msg}。请使用本商户号的 apiclient_cert 证书。"),
                        format!("WeChat Pay refused the API certificate: {return_msg}. Use this merchant's apiclient_cert certificate."),
                    ),
                )
            } else {
                (
                    P::Protocol,
                    Msg::new(
                        format!("微信支付拒绝了请求：{return_msg}。请核对 appid 和商户号。"),
                        format!("WeChat Pay refused the request: {return_msg}. Check the appid and the merchant id."),
                    ),
                )
            }
        }
        wxpay::Error::Signature(_) => (
            P::Signature,
            Msg::new(
                "微信支付回答的签名与 API 密钥不符：API 密钥可能不正确，或回答在途中被改动。回答未被采信。",
                "The signature of WeChat Pay's answer does not match the API key: the key may be wrong, or the answer was altered on the way. It was not believed.",
            ),
        ),
        wxpay::Error::Business { err_code, err_code_des, .. } => explain_business(err_code, err_code_des),
        wxpay::Error::Decode(_) => (
            P::Protocol,
            Msg::new(
                "微信支付的回答无法读取：请检查接口地址是否正确。",
                "WeChat Pay's answer cannot be read: check that the API address is right.",
            ),
        ),
        wxpay::Error::InvalidRequest(reason) => (
            P::Protocol,
            Msg::new(format!("请求无法发送：{reason}"), format!("The request cannot be sent: {reason}")),
        ),
    }
}

fn explain_business(err_code: &ErrCode, des: &str) -> (WeChatProblem, Msg) {
    use WeChatProblem as P;
    let (zh, en) = match err_code {
        ErrCode::SignError => {
            return (
                P::Signature,
                Msg::new(
                    "API 密钥不正确：微信返回签名错误（SIGNERROR）。请核对 API 密钥和签名方式。",
                    "The API key is wrong: WeChat Pay answered SIGNERROR. Check the API key and the sign type.",
                ),
            )
        }
        ErrCode::AppIdNotExist => ("appid 不存在：请核对 appid。", "The appid does not exist: check it."),
        ErrCode::MchIdNotExist => ("商户号不存在：请核对 mch_id。", "The merchant id does not exist: check mch_id."),
        ErrCode::AppIdMchIdNotMatch => (
            "appid 与商户号不匹配：请核对两者是否已绑定。",
            "The appid and the merchant id do not belong together: check the binding.",
        ),
        ErrCode::NoAuth => ("商户没有此接口权限。", "The merchant has no permission for this API."),
        ErrCode::OrderNotExist => {
            ("微信支付没有这笔订单（ORDERNOTEXIST）。", "WeChat Pay does not know this order (ORDERNOTEXIST).")
        }
        ErrCode::SystemError | ErrCode::BizErrNeedRetry => {
            ("微信支付系统繁忙，请稍后再试。", "WeChat Pay is busy; try again in a moment.")
        }
        ErrCode::FrequencyLimited | ErrCode::InvalidReqTooMuch => {
            ("请求太频繁，请稍后再试。", "Too many requests; try again in a moment.")
        }
        _ => {
            return (
                P::Business,
                Msg::new(
                    format!("微信支付拒绝：{err_code}（{des}）"),
                    format!("WeChat Pay said no: {err_code} ({des})"),
                ),
            )
        }
    };
    (P::Business, Msg::new(zh, en))
}

fn explain_transport(t: &TransportError) -> (WeChatProblem, Msg) {
    use WeChatProblem as P;
    match t {
        TransportError::Connect { url, .. } => (
            P::Unreachable,
            Msg::new(
                format!("无法连接微信支付（{}）：请检查网络连接。", host_of(url)),
                format!("Cannot connect to WeChat Pay ({}): check the network connection.", host_of(url)),
            ),
        ),
        TransportError::Timeout { seconds, .. } => (
            P::Unreachable,
            Msg::new(
                format!("微信支付在 {seconds} 秒内没有回答：网络可能很慢，请稍后再试。"),
                format!("WeChat Pay did not answer within {seconds} s: the network may be slow; try again later."),
            ),
        ),
        TransportError::Interrupted { .. } => (
            P::Unreachable,
            Msg::new(
                "与微信支付的连接在回答完整之前中断了，请重试。",
                "The connection to WeChat Pay broke before the answer was complete; try again.",
            ),
        ),
        TransportError::Status { status, .. } if *status >= 500 => (
            P::Unreachable,
            Msg::new(
                format!("微信支付暂时不可用（HTTP {status}），请稍后再试。"),
                format!("WeChat Pay is unavailable for now (HTTP {status}); try again later."),
            ),
        ),
        TransportError::Status { status, url } => (
            P::Protocol,
            Msg::new(
                format!("接口地址不正确：{} 回答 HTTP {status}。", host_of(url)),
                format!("Wrong API address: {} answered HTTP {status}.", host_of(url)),
            ),
        ),
        TransportError::Other(_) => (
            P::Unreachable,
            Msg::new("无法连接微信支付：请检查网络连接。", "Cannot reach WeChat Pay: check the network connection."),
        ),
        TransportError::Tls { url, reason } => (
            P::Tls,
            Msg::new(
                format!("与 {} 的安全连接（TLS）失败：服务器证书不受信任或已过期，或电脑时间不对。使用沙箱时请确认已信任模拟器的 CA 证书。", host_of(url)),
                format!("The secure connection (TLS) to {} failed: {reason}.", host_of(url)),
            ),
        ),
        TransportError::ClientCertificateRefused { .. } => (
            P::Certificate,
            Msg::new(
                "TLS 握手时服务器拒绝了 API 证书：这张证书不是本商户号的，或不是微信支付签发的。请重新选择 apiclient_cert 证书。",
                "The server refused the API certificate during the TLS handshake: it is not this merchant's, or not issued by WeChat Pay. Choose the apiclient_cert certificate again.",
            ),
        ),
        TransportError::MissingCertificate { .. } => (
            P::Certificate,
            Msg::new(
                "这项操作需要 API 证书，但还没有设置：请从商户平台 账户中心 → API安全 → API证书 下载 apiclient_cert.p12，并在设置中导入。",
                "This needs the API certificate, and none is set up: download apiclient_cert.p12 from the merchant platform, 账户中心 → API安全 → API证书, and add it in the settings.",
            ),
        ),
        TransportError::Certificate(e) => (P::Certificate, certificate_msg(e)),
    }
}

/// `https://host:port/…` → `host:port`, for messages.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_api_key_is_a_signature_problem() {
        let e = wxpay::Error::Protocol { return_msg: "签名错误".into() };
        let (p, m) = explain_wechat(&e);
        assert_eq!(p, WeChatProblem::Signature);
        assert!(m.zh.contains("API 密钥不正确"), "{}", m.zh);
        assert_eq!(CoreError::WeChat(e).code(), "signature");
    }

    #[test]
    fn connection_failures_are_unreachable() {
        let e = wxpay::Error::Transport(TransportError::Connect {
            url: "https://127.0.0.1:1/pay/orderquery".into(),
            reason: "connection refused".into(),
        });
        let (p, m) = explain_wechat(&e);
        assert_eq!(p, WeChatProblem::Unreachable);
        assert!(m.en.contains("127.0.0.1:1"), "{}", m.en);
        assert_eq!(CoreError::WeChat(e).code(), "wechat_unreachable");
    }

    #[test]
    fn locales_parse() {
        assert_eq!(Locale::parse("en-US"), Some(Locale::En));
        assert_eq!(Locale::parse("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("fr"), None);
        assert_eq!(serde_json::to_string(&Locale::ZhCn).unwrap(), "\"zh-CN\"");
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let e = CoreError::Internal("SELECT secret FROM x".into());
        let ui = e.to_ui(Locale::En);
        assert_eq!(ui.code, "internal");
        assert!(!ui.message.contains("SELECT"));
    }
}
