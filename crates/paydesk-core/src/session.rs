//! The unlocked state: the ledger and the WeChat Pay client, built from the vault's secrets and the config. It
//! exists only between unlock and lock; locking drops it (and with it the API key and the private key).

use std::time::Duration;

use chrono::Utc;
use ledger::{Ledger, MerchantId, MerchantSettings};
use wxpay::api::WxPayClient;
use wxpay::Fen;

use crate::config::AppConfig;
use crate::error::{CoreError, CoreResult};
use crate::setup::{self, Endpoint};
use crate::vault::VaultContents;

/// Who unlocked the desk: the owner (the owner password: every command) or staff (the staff password, a vault
/// without the API certificate: orders and registering refund applications only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }
}

/// What an unlocked desk holds.
#[derive(Debug)]
pub struct Session {
    pub role: Role,
    pub ledger: Ledger,
    pub client: WxPayClient,
    /// This merchant's row in the ledger.
    pub merchant_id: MerchantId,
    /// Who acts in timeline and audit entries: `desk:<owner name>`, or `staff:<owner name>` for the staff login.
    pub actor: String,
    /// False when the API certificate could not be loaded (e.g. it expired): refunds are refused until it is
    /// replaced; everything else works.
    pub certificate_loaded: bool,
}

/// The settings the ledger keeps about the merchant (non-secret).
pub(crate) fn merchant_settings(config: &AppConfig) -> CoreResult<MerchantSettings> {
    let m = setup::merchant(&config.merchant, &"0".repeat(32))?;
    Ok(MerchantSettings {
        mch_id: m.mch_id,
        appid: m.appid,
        name: config.merchant.mch_id.clone(),
        sign_type: config.merchant.sign_type,
        api_base_url: config.sandbox.as_ref().map(|s| s.base_url.clone()),
        refund_reauth_above: Some(Fen(config.settings.refund_password_threshold_fen)),
    })
}

/// Opens the ledger and builds the client. The merchant row is created if this ledger does not have it yet (a new
/// shared PostgreSQL ledger).
pub(crate) async fn open(
    config: &AppConfig,
    contents: &VaultContents,
    timeouts: (Duration, Duration),
    role: Role,
) -> CoreResult<Session> {
    let merchant = setup::merchant(&config.merchant, &contents.api_key)?;
    let endpoint = match &config.sandbox {
        Some(s) => Endpoint::sandbox(s)?,
        None => Endpoint::wechat(),
    };
    let identity = match &contents.certificate {
        Some(c) => match c.identity() {
            Ok(identity) => Some(identity),
            Err(e) => {
                tracing::warn!("the API certificate in the vault cannot be loaded: {e}");
                None
            }
        },
        None => None,
    };
    let had_identity = identity.is_some();
    let (transport, certificate_loaded) = match endpoint.transport(identity, timeouts.0, timeouts.1) {
        Ok(t) => (t, had_identity),
        // An expired certificate must not keep the owner out: everything but refunds works without it.
        Err(CoreError::ClientConfig(wxpay::client::ConfigError::Identity(e))) => {
            tracing::warn!("the API certificate cannot be used now: {e}");
            (endpoint.transport(None, timeouts.0, timeouts.1)?, false)
        }
        Err(e) => return Err(e),
    };
    let ledger = Ledger::open(&contents.ledger_url).await?;
    let actor = match role {
        Role::Owner => format!("desk:{}", config.owner_name),
        Role::Staff => format!("staff:{}", config.owner_name),
    };
    let merchant_id = match ledger.merchant_by_mch_id(&merchant.mch_id).await? {
        Some(m) => m.id,
        None => ledger.upsert_merchant(&merchant_settings(config)?, &actor, Utc::now()).await?.id,
    };
    Ok(Session { role, ledger, client: WxPayClient::new(merchant, transport), merchant_id, actor, certificate_loaded })
}
