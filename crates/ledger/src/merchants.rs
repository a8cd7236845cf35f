//! Merchants: the non-secret settings of each merchant account the ledger serves. The API key and the certificate
//! are never stored here (ARCHITECTURE.md §5).

use chrono::{DateTime, Utc};
use wxpay::{AppId, Fen, MchId};

use crate::audit::{append_in, audit};
use crate::db::{args, Row};
use crate::error::{Error, Result};
use crate::model::{id_from_db, sign_type_from_db, AuditResult, Merchant, MerchantId, MerchantSettings};
use crate::Ledger;

const COLS: &str = "id, mch_id, appid, name, sign_type, api_base_url, refund_reauth_above, created_at, updated_at";

fn merchant_from_row(row: &Row) -> Result<Merchant> {
    Ok(Merchant {
        id: MerchantId(row.i64("id")?),
        settings: MerchantSettings {
            mch_id: id_from_db("mch_id", MchId::new(row.text("mch_id")?))?,
            appid: id_from_db("appid", AppId::new(row.text("appid")?))?,
            name: row.text("name")?,
            sign_type: sign_type_from_db(&row.text("sign_type")?)?,
            api_base_url: row.opt_text("api_base_url")?,
            refund_reauth_above: row.opt_i64("refund_reauth_above")?.map(Fen),
        },
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

impl Ledger {
    /// Creates the merchant, or updates its settings when `mch_id` is already known. Audited.
    pub async fn upsert_merchant(
        &self,
        settings: &MerchantSettings,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Merchant> {
        if settings.refund_reauth_above.is_some_and(Fen::is_negative) {
            return Err(Error::InvalidInput("refund_reauth_above must not be negative".into()));
        }
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "INSERT INTO merchants (mch_id, appid, name, sign_type, api_base_url, refund_reauth_above, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (mch_id) DO UPDATE SET appid = excluded.appid, name = excluded.name, \
             sign_type = excluded.sign_type, api_base_url = excluded.api_base_url, \
             refund_reauth_above = excluded.refund_reauth_above, updated_at = excluded.updated_at \
             RETURNING {COLS}"
        );
        let row = tx
            .fetch_one(
                &sql,
                args![
                    settings.mch_id.as_str(),
                    settings.appid.as_str(),
                    settings.name.as_str(),
                    settings.sign_type.as_str(),
                    settings.api_base_url.clone(),
                    settings.refund_reauth_above,
                    at
                ],
            )
            .await?;
        let merchant = merchant_from_row(&row)?;
        let detail = serde_json::json!({
            "appid": settings.appid.as_str(),
            "name": settings.name,
            "sign_type": settings.sign_type.as_str(),
            "api_base_url": settings.api_base_url,
            "refund_reauth_above": settings.refund_reauth_above.map(Fen::get),
        })
        .to_string();
        append_in(
            &mut tx,
            &audit(actor, "merchant.upsert", format!("merchant:{}", settings.mch_id), AuditResult::Ok, detail, at),
        )
        .await?;
        tx.commit().await?;
        Ok(merchant)
    }

    pub async fn merchant(&self, id: MerchantId) -> Result<Merchant> {
        let sql = format!("SELECT {COLS} FROM merchants WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(merchant_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "merchant", key: id.to_string() })
    }

    pub async fn merchant_by_mch_id(&self, mch_id: &MchId) -> Result<Option<Merchant>> {
        let sql = format!("SELECT {COLS} FROM merchants WHERE mch_id = $1");
        self.db.fetch_optional(&sql, args![mch_id.as_str()]).await?.as_ref().map(merchant_from_row).transpose()
    }

    pub async fn merchants(&self) -> Result<Vec<Merchant>> {
        let sql = format!("SELECT {COLS} FROM merchants ORDER BY id");
        self.db.fetch_all(&sql, args![]).await?.iter().map(merchant_from_row).collect()
    }
}
