-- Why: the first ledger schema (ARCHITECTURE.md §4, issue 4). Every fact Paydesk learns is kept here, and this is
-- the only place the receiver and the desktops meet, so the rules that keep two processes from applying the same
-- fact twice live in the schema itself: unique keys for facts, CHECK lists for every status column, and CHECKs that
-- an order's refunds can never exceed its amount.
--
-- Conventions (the same in migrations/postgres/0001_ledger.sql, which must stay in step with this file):
--   * money is integer fen (INTEGER here, BIGINT there); bill fees are units of 0.00001 yuan (wxpay FeeAmount);
--   * timestamps are UTC, written by the ledger as fixed-width text `YYYY-MM-DDTHH:MM:SS.ffffffZ` so that text order
--     is time order; dates (`*_day`, `bill_date`) are Beijing calendar days as `YYYY-MM-DD`;
--   * ids from WeChat and merchants are ASCII and compared bytewise (BINARY here, COLLATE "C" there);
--   * no secrets: the API key and the certificate never enter the ledger.

-- Merchant settings that are not secret. One ledger may serve several merchant accounts of one shop.
CREATE TABLE merchants (
    id                  INTEGER PRIMARY KEY,
    mch_id              TEXT    NOT NULL UNIQUE,
    appid               TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    sign_type           TEXT    NOT NULL CHECK (sign_type IN ('MD5', 'HMAC-SHA256')),
    api_base_url        TEXT,
    refund_reauth_above INTEGER CHECK (refund_reauth_above IS NULL OR refund_reauth_above >= 0),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);

-- Raw replies kept as evidence for timeline entries learned by a query (orderquery, refundquery, refund reply).
CREATE TABLE evidence (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('ORDER_QUERY', 'REFUND_QUERY', 'REFUND_REPLY', 'OTHER')),
    body        BLOB    NOT NULL,
    sha256      TEXT    NOT NULL,
    received_at TEXT    NOT NULL
);

CREATE TABLE orders (
    id                     INTEGER PRIMARY KEY,
    merchant_id            INTEGER NOT NULL REFERENCES merchants (id),
    out_trade_no           TEXT    NOT NULL,
    transaction_id         TEXT    UNIQUE,
    appid                  TEXT,
    sign_type              TEXT    NOT NULL CHECK (sign_type IN ('MD5', 'HMAC-SHA256')),
    trade_type             TEXT,
    trade_state            TEXT    NOT NULL CHECK (trade_state IN
                               ('NOTPAY', 'USERPAYING', 'ACCEPT', 'SUCCESS', 'REFUND', 'CLOSED', 'REVOKED', 'PAYERROR')),
    body                   TEXT,
    attach                 TEXT,
    total_fee              INTEGER NOT NULL CHECK (total_fee > 0),
    cash_fee               INTEGER CHECK (cash_fee IS NULL OR cash_fee >= 0),
    settlement_total_fee   INTEGER CHECK (settlement_total_fee IS NULL OR settlement_total_fee >= 0),
    coupon_fee             INTEGER CHECK (coupon_fee IS NULL OR coupon_fee >= 0),
    fee_type               TEXT    NOT NULL DEFAULT 'CNY',
    bank_type              TEXT,
    openid                 TEXT,
    -- refund_reserved: refunds that hold money (created, processing, success, change); refunded_total: SUCCESS only.
    refund_reserved        INTEGER NOT NULL DEFAULT 0,
    refunded_total         INTEGER NOT NULL DEFAULT 0,
    refund_count           INTEGER NOT NULL DEFAULT 0 CHECK (refund_count >= 0 AND refund_count <= 50),
    origin                 TEXT    NOT NULL
                           CHECK (origin IN ('SHOP_BACKEND', 'NOTIFICATION', 'QUERY', 'BILL', 'PERSON', 'SYSTEM')),
    placed_at              TEXT    NOT NULL,
    paid_at                TEXT,
    paid_day               TEXT,
    time_expire            TEXT,
    -- Set when a person must look (an unregistered payment, an amount mismatch, ...); NULL when all is well.
    flag_reason            TEXT,
    next_check_at          TEXT,
    last_checked_at        TEXT,
    check_count            INTEGER NOT NULL DEFAULT 0,
    last_refund_request_at TEXT,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    UNIQUE (merchant_id, out_trade_no),
    CHECK (refunded_total >= 0 AND refunded_total <= refund_reserved AND refund_reserved <= total_fee),
    CHECK ((paid_at IS NULL) = (paid_day IS NULL))
);
-- The order list: newest first, keyset on (placed_at, id), optionally one state at a time.
CREATE INDEX orders_placed ON orders (placed_at, id);
CREATE INDEX orders_state_placed ON orders (trade_state, placed_at, id);
-- Lookup by out_trade_no (or a prefix of it) across merchants.
CREATE INDEX orders_out_trade_no ON orders (out_trade_no);
-- Per-day totals read only this index.
CREATE INDEX orders_paid_day ON orders (paid_day, merchant_id, total_fee) WHERE paid_day IS NOT NULL;
-- Status sync: orders whose outcome is unknown.
CREATE INDEX orders_next_check ON orders (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX orders_flagged ON orders (placed_at, id) WHERE flag_reason IS NOT NULL;

-- Every notification as it arrived, before anything else is done with it: nothing accepted is ever lost.
CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('PAYMENT', 'REFUND')),
    received_at    TEXT    NOT NULL,
    remote_addr    TEXT,
    headers        TEXT    NOT NULL,
    body           BLOB    NOT NULL,
    body_sha256    TEXT    NOT NULL,
    verification   TEXT    NOT NULL DEFAULT 'PENDING' CHECK (verification IN ('PENDING', 'VALID', 'INVALID')),
    verification_detail TEXT,
    mch_id         TEXT,
    out_trade_no   TEXT,
    out_refund_no  TEXT,
    outcome        TEXT    NOT NULL DEFAULT 'PENDING'
                   CHECK (outcome IN ('PENDING', 'APPLIED', 'DUPLICATE', 'REJECTED', 'UNKNOWN_ORDER')),
    outcome_reason TEXT,
    order_id       INTEGER REFERENCES orders (id),
    refund_id      INTEGER,
    processed_at   TEXT
);
CREATE INDEX notifications_received ON notifications (received_at);
CREATE INDEX notifications_pending ON notifications (id) WHERE outcome = 'PENDING';
CREATE INDEX notifications_order ON notifications (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE refund_applications (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id),
    order_id      INTEGER NOT NULL REFERENCES orders (id),
    -- The shop backend's own id for the request: registering it twice is refused by this key.
    external_ref  TEXT,
    amount        INTEGER NOT NULL CHECK (amount > 0),
    reason        TEXT,
    origin        TEXT    NOT NULL CHECK (origin IN ('SHOP_BACKEND', 'DESK')),
    status        TEXT    NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')),
    requested_by  TEXT    NOT NULL,
    requested_at  TEXT    NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT,
    UNIQUE (merchant_id, external_ref),
    CHECK ((status = 'PENDING') = (decided_at IS NULL))
);
CREATE INDEX refund_applications_pending ON refund_applications (requested_at, id) WHERE status = 'PENDING';
CREATE INDEX refund_applications_order ON refund_applications (order_id);

CREATE TABLE refunds (
    id                 INTEGER PRIMARY KEY,
    merchant_id        INTEGER NOT NULL REFERENCES merchants (id),
    order_id           INTEGER NOT NULL REFERENCES orders (id),
    application_id     INTEGER UNIQUE REFERENCES refund_applications (id),
    out_refund_no      TEXT    NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    total_fee          INTEGER NOT NULL CHECK (total_fee > 0),
    reason             TEXT,
    origin             TEXT    NOT NULL CHECK (origin IN ('APPLICATION', 'EXTERNAL')),
    status             TEXT    NOT NULL DEFAULT 'CREATED'
                       CHECK (status IN ('CREATED', 'PROCESSING', 'SUCCESS', 'REFUNDCLOSE', 'CHANGE', 'FAILED')),
    err_code           TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_attempt_at    TEXT,
    last_error_code    TEXT,
    last_error_message TEXT,
    refund_id          TEXT    UNIQUE,
    refund_channel     TEXT,
    recv_account       TEXT,
    refund_account     TEXT,
    success_at         TEXT,
    success_day        TEXT,
    -- NOTENOUGH, CHANGE, USER_ACCOUNT_ABNORMAL, ...: a person must act. NULL when all is well.
    flag_reason        TEXT,
    next_check_at      TEXT,
    last_checked_at    TEXT,
    check_count        INTEGER NOT NULL DEFAULT 0,
    created_by         TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    UNIQUE (merchant_id, out_refund_no),
    CHECK ((status = 'FAILED') = (err_code IS NOT NULL))
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_watch ON refunds (status, id) WHERE status IN ('CREATED', 'PROCESSING', 'CHANGE') OR flag_reason IS NOT NULL;
CREATE INDEX refunds_next_check ON refunds (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX refunds_success_day ON refunds (success_day, merchant_id, amount) WHERE success_day IS NOT NULL;

-- The order timeline: each change with its source and a reference to the raw evidence. `fact_key` is the
-- idempotency key of a fact ("order 7 reached SUCCESS"): the same fact applied twice is refused here.
CREATE TABLE order_events (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    refund_id       INTEGER REFERENCES refunds (id),
    application_id  INTEGER REFERENCES refund_applications (id),
    kind            TEXT    NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    amount          INTEGER,
    source          TEXT    NOT NULL CHECK (source IN ('NOTIFICATION', 'QUERY', 'BILL', 'PERSON', 'SHOP_BACKEND', 'SYSTEM')),
    notification_id INTEGER REFERENCES notifications (id),
    evidence_id     INTEGER REFERENCES evidence (id),
    bill_row_id     INTEGER,
    actor           TEXT,
    note            TEXT,
    fact_key        TEXT    UNIQUE,
    at              TEXT    NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE TABLE bill_files (
    id                        INTEGER PRIMARY KEY,
    merchant_id               INTEGER NOT NULL REFERENCES merchants (id),
    bill_date                 TEXT    NOT NULL,
    bill_type                 TEXT    NOT NULL CHECK (bill_type IN ('ALL', 'SUCCESS', 'REFUND', 'RECHARGE_REFUND')),
    source                    TEXT    NOT NULL CHECK (source IN ('DOWNLOAD', 'IMPORT')),
    file_name                 TEXT,
    sha256                    TEXT    NOT NULL,
    byte_len                  INTEGER NOT NULL CHECK (byte_len >= 0),
    row_count                 INTEGER NOT NULL DEFAULT 0,
    total_count               INTEGER,
    settlement_total_fen      INTEGER,
    refund_total_fen          INTEGER,
    recharge_refund_total_fen INTEGER,
    fee_total_units           INTEGER,
    order_total_fen           INTEGER,
    refund_requested_fen      INTEGER,
    imported_by               TEXT    NOT NULL,
    imported_at               TEXT    NOT NULL,
    UNIQUE (merchant_id, bill_date, bill_type, sha256)
);

-- Bill rows as parsed; amounts in fen, fees in 0.00001 yuan units. Bulk-inserted: one index only.
CREATE TABLE bill_rows (
    id                   INTEGER PRIMARY KEY,
    bill_file_id         INTEGER NOT NULL REFERENCES bill_files (id),
    line_no              INTEGER NOT NULL,
    trade_time           TEXT    NOT NULL,
    appid                TEXT,
    mch_id               TEXT,
    sub_mch_id           TEXT,
    device_info          TEXT,
    transaction_id       TEXT,
    out_trade_no         TEXT,
    openid               TEXT,
    trade_type           TEXT,
    trade_state          TEXT    NOT NULL,
    bank_type            TEXT,
    currency             TEXT,
    settlement_fen       INTEGER NOT NULL,
    coupon_fen           INTEGER NOT NULL,
    refund_id            TEXT,
    out_refund_no        TEXT,
    refund_fen           INTEGER NOT NULL,
    recharge_refund_fen  INTEGER NOT NULL,
    refund_type          TEXT,
    refund_status        TEXT,
    body                 TEXT,
    attach               TEXT,
    fee_units            INTEGER NOT NULL,
    rate                 TEXT,
    order_fen            INTEGER NOT NULL,
    refund_requested_fen INTEGER NOT NULL,
    rate_note            TEXT,
    refund_requested_at  TEXT,
    refund_success_at    TEXT,
    UNIQUE (bill_file_id, line_no)
);

CREATE TABLE recon_runs (
    id                INTEGER PRIMARY KEY,
    merchant_id       INTEGER NOT NULL REFERENCES merchants (id),
    bill_date         TEXT    NOT NULL,
    bill_file_id      INTEGER REFERENCES bill_files (id),
    status            TEXT    NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
    started_by        TEXT    NOT NULL,
    started_at        TEXT    NOT NULL,
    finished_at       TEXT,
    matched_count     INTEGER,
    discrepancy_count INTEGER,
    takings_fen       INTEGER,
    refunds_fen       INTEGER,
    fees_units        INTEGER,
    net_fen           INTEGER,
    error             TEXT
);
CREATE INDEX recon_runs_day ON recon_runs (merchant_id, bill_date, id);

-- One row per difference per day; a re-run finds the same row again by (merchant, day, kind, subject).
CREATE TABLE discrepancies (
    id             INTEGER PRIMARY KEY,
    merchant_id    INTEGER NOT NULL REFERENCES merchants (id),
    bill_date      TEXT    NOT NULL,
    first_run_id   INTEGER NOT NULL REFERENCES recon_runs (id),
    last_run_id    INTEGER NOT NULL REFERENCES recon_runs (id),
    kind           TEXT    NOT NULL CHECK (kind IN
                       ('MISSING_IN_LEDGER', 'MISSING_AT_WECHAT', 'AMOUNT_MISMATCH', 'STATUS_MISMATCH', 'REFUND_MISMATCH')),
    subject        TEXT    NOT NULL,
    order_id       INTEGER REFERENCES orders (id),
    refund_id      INTEGER REFERENCES refunds (id),
    bill_row_id    INTEGER REFERENCES bill_rows (id),
    ledger_value   TEXT,
    wechat_value   TEXT,
    ledger_amount  INTEGER,
    wechat_amount  INTEGER,
    status         TEXT    NOT NULL CHECK (status IN ('OPEN', 'CARRIED_OVER', 'ACTION_PENDING', 'RESOLVED', 'EXPLAINED')),
    action         TEXT    CHECK (action IS NULL OR action IN ('QUERY', 'REFUND', 'EXPLAIN')),
    resolution     TEXT,
    resolved_by    TEXT,
    resolved_at    TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (merchant_id, bill_date, kind, subject)
);
CREATE INDEX discrepancies_open ON discrepancies (bill_date, id) WHERE status IN ('OPEN', 'CARRIED_OVER', 'ACTION_PENDING');

-- The append-only audit log. Each entry's hash is SHA-256(previous hash ‖ canonical entry); `audit_head` holds the
-- last sequence number and hash, so appenders serialize on one row and a truncated tail is detectable too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    result    TEXT    NOT NULL CHECK (result IN ('OK', 'REFUSED', 'FAILED')),
    detail    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL UNIQUE
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
