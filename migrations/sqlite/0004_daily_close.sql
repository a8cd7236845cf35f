-- Why: issue 8 (the daily close). What reconciling a day needs beyond the first schema:
--   * a discrepancy's action may be RECORD (the order or refund recorded from its bill row), so the CHECK list of
--     `discrepancies.action` grows (SQLite cannot alter a CHECK: the table is rebuilt, its rows kept);
--   * the bill's own summary checked against its rows is kept with the file (`summary_differences`, a JSON array of
--     plain-text differences; '[]' when they agree), because the summary is only known after the last row;
--   * "No Bill Exist" for a day is a fact (`bill_absences`): the day had no business at WeChat, which both the
--     calendar and the carry-over window need to know;
--   * a run keeps both sides' figures (counts and amounts of payments and refunds, fees) so the day view reads one row;
--   * refunds are found by the day they were initiated (the bill's definition), so they get an index by time.
--
-- The same change is migrations/postgres/0004_daily_close.sql.

CREATE TABLE discrepancies_new (
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
    action         TEXT    CHECK (action IS NULL OR action IN ('QUERY', 'REFUND', 'EXPLAIN', 'RECORD')),
    resolution     TEXT,
    resolved_by    TEXT,
    resolved_at    TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (merchant_id, bill_date, kind, subject)
);
INSERT INTO discrepancies_new SELECT id, merchant_id, bill_date, first_run_id, last_run_id, kind, subject, order_id,
    refund_id, bill_row_id, ledger_value, wechat_value, ledger_amount, wechat_amount, status, action, resolution,
    resolved_by, resolved_at, created_at, updated_at FROM discrepancies;
DROP TABLE discrepancies;
ALTER TABLE discrepancies_new RENAME TO discrepancies;
CREATE INDEX discrepancies_open ON discrepancies (bill_date, id) WHERE status IN ('OPEN', 'CARRIED_OVER', 'ACTION_PENDING');

ALTER TABLE bill_files ADD COLUMN summary_differences TEXT;

CREATE TABLE bill_absences (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    bill_date   TEXT    NOT NULL,
    bill_type   TEXT    NOT NULL CHECK (bill_type IN ('ALL', 'SUCCESS', 'REFUND', 'RECHARGE_REFUND')),
    seen_by     TEXT    NOT NULL,
    seen_at     TEXT    NOT NULL,
    UNIQUE (merchant_id, bill_date, bill_type)
);

ALTER TABLE recon_runs ADD COLUMN payments_count INTEGER;
ALTER TABLE recon_runs ADD COLUMN refunds_count INTEGER;
ALTER TABLE recon_runs ADD COLUMN ledger_payments_count INTEGER;
ALTER TABLE recon_runs ADD COLUMN ledger_payments_fen INTEGER;
ALTER TABLE recon_runs ADD COLUMN ledger_refunds_count INTEGER;
ALTER TABLE recon_runs ADD COLUMN ledger_refunds_fen INTEGER;
ALTER TABLE recon_runs ADD COLUMN ledger_fees_units INTEGER;

CREATE INDEX refunds_created ON refunds (merchant_id, created_at);
