//! The append-only audit log: who did what, when, with what result. Each entry carries the SHA-256 of the previous
//! entry's hash and its own canonical encoding, so an edited or deleted entry is found by
//! [`Ledger::verify_audit_chain`]. Appenders serialize on the single `audit_head` row (sequence number and last
//! hash), which also makes a deleted tail detectable. Triggers refuse UPDATE and DELETE on `audit_log`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::{args, ts_text, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{AuditEntry, AuditResult, BrokenEntry, ChainProblem, ChainReport, NewAuditEntry};
use crate::Ledger;

/// The hash before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Builds an entry; a shorthand for the ledger's own audited operations.
pub(crate) fn audit(
    actor: &str,
    action: &str,
    subject: String,
    result: AuditResult,
    detail: String,
    at: DateTime<Utc>,
) -> NewAuditEntry {
    NewAuditEntry { actor: actor.to_owned(), action: action.to_owned(), subject, result, detail, at }
}

fn put_field(hasher: &mut Sha256, bytes: &[u8]) {
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

/// SHA-256 over the previous hash (32 raw bytes) and the entry's canonical encoding: each field as an 8-byte
/// big-endian length and its UTF-8 bytes, in the order seq (decimal), at (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), actor,
/// action, subject, result, detail. Returns `None` when `prev_hash` is not 64 hex digits.
pub fn entry_hash(prev_hash: &str, seq: i64, entry: &NewAuditEntry) -> Option<String> {
    let prev = hex::decode(prev_hash).ok().filter(|bytes| bytes.len() == 32)?;
    let mut hasher = Sha256::new();
    hasher.update(&prev);
    put_field(&mut hasher, seq.to_string().as_bytes());
    put_field(&mut hasher, ts_text(entry.at).as_bytes());
    put_field(&mut hasher, entry.actor.as_bytes());
    put_field(&mut hasher, entry.action.as_bytes());
    put_field(&mut hasher, entry.subject.as_bytes());
    put_field(&mut hasher, entry.result.as_str().as_bytes());
    put_field(&mut hasher, entry.detail.as_bytes());
    Some(hex::encode(hasher.finalize()))
}

fn stored_hash(entry: &AuditEntry) -> Option<String> {
    let content = NewAuditEntry {
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        subject: entry.subject.clone(),
        result: entry.result,
        detail: entry.detail.clone(),
        at: entry.at,
    };
    entry_hash(&entry.prev_hash, entry.seq, &content)
}

/// Appends inside the caller's transaction, so the entry commits (or not) with the change it describes. Put it
/// last in the transaction: it holds the `audit_head` row lock until commit.
pub(crate) async fn append_in(tx: &mut Tx, entry: &NewAuditEntry) -> Result<AuditEntry> {
    let head = tx.fetch_one("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash", args![]).await?;
    let seq = head.i64("seq")?;
    let prev_hash = head.text("hash")?;
    let at = crate::db::micros(entry.at);
    let hash = entry_hash(&prev_hash, seq, entry)
        .ok_or_else(|| Error::Corrupt("audit_head.hash is not a SHA-256 hex digest".into()))?;
    tx.execute("UPDATE audit_head SET hash = $1 WHERE id = 1", args![hash.as_str()]).await?;
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, result, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            seq,
            at,
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.subject.as_str(),
            entry.result.as_str(),
            entry.detail.as_str(),
            prev_hash.as_str(),
            hash.as_str()
        ],
    )
    .await?;
    Ok(AuditEntry {
        seq,
        at,
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        subject: entry.subject.clone(),
        result: entry.result,
        detail: entry.detail.clone(),
        prev_hash,
        hash,
    })
}

const COLS: &str = "seq, at, actor, action, subject, result, detail, prev_hash, hash";

fn entry_from_row(row: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.i64("seq")?,
        at: row.ts("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        subject: row.text("subject")?,
        result: AuditResult::from_db(&row.text("result")?)?,
        detail: row.text("detail")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

impl Ledger {
    /// Appends one entry (for actions the ledger does not audit by itself, and for refused or failed attempts).
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        let mut tx = self.db.begin().await?;
        let stored = append_in(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Entries with `seq > after`, oldest first.
    pub async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let sql = format!("SELECT {COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        self.db.fetch_all(&sql, args![after, i64::from(limit)]).await?.iter().map(entry_from_row).collect()
    }

    /// Entries with `seq < before` (all when `None`), newest first: the audit page's paging.
    pub async fn audit_entries_before(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>> {
        let sql = format!("SELECT {COLS} FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2");
        let before = before.unwrap_or(i64::MAX);
        self.db.fetch_all(&sql, args![before, i64::from(limit)]).await?.iter().map(entry_from_row).collect()
    }

    /// Walks the whole chain and returns the first entry where it does not hold: an entry whose content no longer
    /// matches its hash (edited), whose `prev_hash` is not its predecessor's hash, a missing sequence number
    /// (deleted), or a head that does not match the last entry (tail deleted).
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let mut expected_seq = 1_i64;
        let mut prev = GENESIS_HASH.to_owned();
        let mut checked = 0_i64;
        loop {
            let page = self.audit_entries(expected_seq - 1, 1000).await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                let broken = |problem: ChainProblem| {
                    let seq = if problem == ChainProblem::Missing { expected_seq } else { entry.seq };
                    ChainReport { entries_checked: checked, first_broken: Some(BrokenEntry { seq, problem }) }
                };
                if entry.seq != expected_seq {
                    return Ok(broken(ChainProblem::Missing));
                }
                if entry.prev_hash != prev {
                    return Ok(broken(ChainProblem::PrevHashMismatch));
                }
                if stored_hash(entry).as_deref() != Some(entry.hash.as_str()) {
                    return Ok(broken(ChainProblem::HashMismatch));
                }
                prev.clone_from(&entry.hash);
                expected_seq += 1;
                checked += 1;
            }
        }
        let head = self.db.fetch_one("SELECT seq, hash FROM audit_head WHERE id = 1", args![]).await?;
        let head_seq = head.i64("seq")?;
        let last_seq = expected_seq - 1;
        let first_broken = if head_seq > last_seq {
            Some(BrokenEntry { seq: expected_seq, problem: ChainProblem::Missing })
        } else if head_seq < last_seq || head.text("hash")? != prev {
            Some(BrokenEntry { seq: head_seq.max(1), problem: ChainProblem::HeadMismatch })
        } else {
            None
        };
        Ok(ChainReport { entries_checked: checked, first_broken })
    }
}
