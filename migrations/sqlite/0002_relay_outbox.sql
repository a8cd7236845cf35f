-- Why: notify-receiver (issue 5) forwards each verified event (a notification that changed the ledger) to the shop
-- backend. The event is written here in the same transaction that applies the notification, so an applied fact can
-- never be lost for the relay, even when the receiver dies right after the commit. Relay workers (one per receiver
-- process, several may share one PostgreSQL) claim due rows by moving `next_attempt_at` forward (a lease), deliver,
-- then mark them delivered or schedule the next try: delivery is at least once, across restarts.
--
-- The same change is migrations/postgres/0002_relay_outbox.sql.
CREATE TABLE relay_outbox (
    id              INTEGER PRIMARY KEY,
    -- One event per applied notification: the notification's id is the event's idempotency key.
    notification_id INTEGER NOT NULL UNIQUE REFERENCES notifications (id),
    -- `payment` or `refund`.
    event_type      TEXT    NOT NULL CHECK (event_type IN ('payment', 'refund')),
    -- The notification's outcome (APPLIED or UNKNOWN_ORDER).
    outcome         TEXT    NOT NULL,
    -- The event's facts as JSON, written by the receiver. Never a secret.
    payload         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the row is next due; a claim moves it forward by the lease, so a crashed worker's rows come back.
    next_attempt_at TEXT    NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT
);
CREATE INDEX relay_outbox_due ON relay_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
