//! What the shop backend tells the ledger about an order beyond [`crate::NewOrder`]: the payer's openid, known to a
//! JSAPI / mini-program backend before payment (the payment notification brings it again and wins).

use crate::db::args;
use crate::error::{Error, Result};
use crate::model::OrderId;
use crate::Ledger;

impl Ledger {
    /// Sets an order's payer `openid` (≤ 128 characters) if none is recorded yet; returns whether it was set.
    pub async fn set_order_openid(&self, order: OrderId, openid: &str) -> Result<bool> {
        if openid.is_empty() || openid.chars().count() > 128 {
            return Err(Error::InvalidInput("openid must be 1 to 128 characters".into()));
        }
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute("UPDATE orders SET openid = $1 WHERE id = $2 AND openid IS NULL", args![openid, order.0])
            .await?;
        if n == 0 && tx.fetch_optional("SELECT id FROM orders WHERE id = $1", args![order.0]).await?.is_none() {
            return Err(Error::NotFound { what: "order", key: order.to_string() });
        }
        tx.commit().await?;
        Ok(n == 1)
    }
}
