-- Why: issue 7. A refund WeChat refused for good (FAILED, e.g. USER_ACCOUNT_ABNORMAL: the payer's account is
-- frozen or closed) is refunded to the customer outside WeChat Pay by the owner, who then marks it done. The mark
-- is a fact of its own (who, when, why); the refund stays FAILED, because at WeChat nothing was refunded and the
-- daily bill must still agree with the ledger.
--
-- The same change is migrations/postgres/0003_refund_resolution.sql.
ALTER TABLE refunds ADD COLUMN resolved_at TEXT;
ALTER TABLE refunds ADD COLUMN resolved_by TEXT;
ALTER TABLE refunds ADD COLUMN resolved_note TEXT;
