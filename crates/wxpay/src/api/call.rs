//! The typed client: a merchant's identity and key plus the HTTPS transport. Each call builds the
//! signed request, posts it, and checks the reply in §1.1 order. No retries here: whether a retry is
//! safe depends on what the caller fixed beforehand (a refund's `out_refund_no`), so retry policy
//! lives with the caller; errors say whether it is allowed (`Error::is_retryable_with_same_parameters`).

use super::bill_download::{classify_download, DownloadBill, DownloadFundFlow, DownloadOutcome};
use super::{handle_reply, new_nonce, request_body, ApiRequest, Merchant, Request};
use crate::client::HttpTransport;
use crate::error::Error;

/// A merchant's client to WeChat Pay (or to wxpay-sim).
#[derive(Debug, Clone)]
pub struct WxPayClient {
    merchant: Merchant,
    transport: HttpTransport,
}

impl WxPayClient {
    pub fn new(merchant: Merchant, transport: HttpTransport) -> Self {
        WxPayClient { merchant, transport }
    }

    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    pub fn transport(&self) -> &HttpTransport {
        &self.transport
    }

    /// Sends a request with a signed XML reply and returns the verified, typed reply.
    pub async fn execute<R: ApiRequest>(&self, request: &R) -> Result<R::Reply, Error> {
        let (body, sign_type) = request_body(request, &self.merchant, &new_nonce())?;
        let reply = self.transport.post(R::API, body).await?;
        handle_reply::<R>(&reply, sign_type, &self.merchant.key)
    }

    /// Downloads a trade bill: the bytes as received, or the no-bill / not-yet states.
    pub async fn download_bill(&self, request: &DownloadBill) -> Result<DownloadOutcome, Error> {
        self.download(request).await
    }

    /// [`WxPayClient::download_bill`] reporting `(bytes so far, Content-Length)` as the bill arrives.
    pub async fn download_bill_with_progress(
        &self,
        request: &DownloadBill,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<DownloadOutcome, Error> {
        let (body, sign_type) = request_body(request, &self.merchant, &new_nonce())?;
        let reply = self.transport.post_with_progress(DownloadBill::API, body, progress).await?;
        classify_download(DownloadBill::API, reply.to_vec(), sign_type, &self.merchant.key)
    }

    /// Downloads a fund-flow bill (mutual TLS, HMAC-SHA256).
    pub async fn download_fund_flow(&self, request: &DownloadFundFlow) -> Result<DownloadOutcome, Error> {
        self.download(request).await
    }

    async fn download<R: Request>(&self, request: &R) -> Result<DownloadOutcome, Error> {
        let (body, sign_type) = request_body(request, &self.merchant, &new_nonce())?;
        let reply = self.transport.post(R::API, body).await?;
        classify_download(R::API, reply.to_vec(), sign_type, &self.merchant.key)
    }
}
