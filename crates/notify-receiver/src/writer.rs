//! The payment-notification writer: requests hand their verified notification to it and wait; it takes whatever is
//! queued at that moment (up to [`ledger::MAX_BATCH`]) and writes it with two transactions — the raw bodies with
//! their verification results first ([`ledger::Ledger::store_notifications`], committed), then the facts
//! ([`ledger::Ledger::apply_payment_notifications`]) — and answers each request with its own outcome.
//!
//! Why: a statement through sqlx is a round trip to a worker thread or the server, and SQLite writers take turns,
//! so one notification at a time (about 20 statements) caps a 2-core machine near 500 notifications/s. A batch
//! costs a handful of statements whatever its size. Nothing waits to fill a batch: under light load a batch is one
//! notification and the latency is that of the single path; under load batches grow by themselves.
//!
//! If the batched apply fails with anything but "database unavailable" (a lost race on PostgreSQL, say), each
//! notification is applied alone through the single path, so one odd notification never fails the others.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger::{
    AppliedNotification, IncomingNotification, Ledger, NotificationId, PaymentFacts, PaymentToApply, VerificationResult,
};
use tokio::sync::{mpsc, oneshot, Mutex, MutexGuard};

use crate::error::Error;

/// SQLite has one writer at a time: this process's writers queue here (in order, without SQLite's sleeping busy
/// handler) instead of racing for the file lock. No gate on PostgreSQL.
#[derive(Debug)]
pub struct Gate {
    mutex: Option<Mutex<()>>,
    timeout: Duration,
}

impl Gate {
    pub fn new(engine: ledger::Engine, timeout: Duration) -> Gate {
        let mutex = match engine {
            ledger::Engine::Sqlite => Some(Mutex::new(())),
            ledger::Engine::Postgres => None,
        };
        Gate { mutex, timeout }
    }

    /// Takes this process's turn to write, waiting at most the database timeout.
    pub async fn turn(&self) -> Result<Option<MutexGuard<'_, ()>>, Error> {
        match &self.mutex {
            None => Ok(None),
            Some(m) => match tokio::time::timeout(self.timeout, m.lock()).await {
                Ok(guard) => Ok(Some(guard)),
                Err(_) => {
                    tracing::warn!("waited too long for this process's turn to write to SQLite");
                    Err(Error::Unavailable)
                }
            },
        }
    }
}

/// What became of one job.
#[derive(Debug)]
pub enum Done {
    /// Stored (with its verification result) and applied.
    Applied(NotificationId, AppliedNotification),
    /// Stored only: invalid, or nothing to apply.
    Stored(NotificationId),
}

/// One payment notification, verified in memory.
#[derive(Debug)]
pub struct Job {
    pub incoming: IncomingNotification,
    pub verification: VerificationResult,
    /// The facts and the relay payload, when there is something to apply.
    pub apply: Option<(PaymentFacts, Option<String>)>,
    pub reply: oneshot::Sender<Result<Done, Error>>,
}

/// Hands jobs to the writer tasks.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `tasks` writer tasks (one on SQLite: its writes take turns anyway) over `ledger`.
    pub fn start(ledger: Ledger, gate: Arc<Gate>, tasks: usize) -> Writer {
        let (queue, rx) = mpsc::channel(ledger::MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(ledger.clone(), gate.clone(), rx.clone()));
        }
        Writer { queue }
    }

    /// Queues a job and waits for its outcome.
    pub async fn submit(
        &self,
        incoming: IncomingNotification,
        verification: VerificationResult,
        apply: Option<(PaymentFacts, Option<String>)>,
    ) -> Result<Done, Error> {
        let (reply, done) = oneshot::channel();
        let job = Job { incoming, verification, apply, reply };
        if self.queue.send(job).await.is_err() {
            return Err(Error::Internal);
        }
        done.await.unwrap_or(Err(Error::Internal))
    }
}

/// Ends when every [`Writer`] is dropped.
async fn run(ledger: Ledger, gate: Arc<Gate>, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < ledger::MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        write_batch(&ledger, &gate, jobs).await;
    }
}

async fn write_batch(ledger: &Ledger, gate: &Gate, jobs: Vec<Job>) {
    let turn = match gate.turn().await {
        Ok(turn) => turn,
        Err(e) => return answer_all(jobs, &e),
    };
    let now = Utc::now();
    let items: Vec<(IncomingNotification, VerificationResult)> =
        jobs.iter().map(|j| (j.incoming.clone(), j.verification.clone())).collect();
    let ids = match ledger.store_notifications(&items, now).await {
        Ok(ids) => ids,
        Err(e) => {
            drop(turn);
            return answer_all(jobs, &Error::from(e));
        }
    };
    let mut to_apply = Vec::new();
    let mut which = Vec::new();
    for (k, (job, id)) in jobs.iter().zip(&ids).enumerate() {
        if let Some((facts, payload)) = &job.apply {
            to_apply.push(PaymentToApply { id: *id, facts: facts.clone(), relay_payload: payload.clone() });
            which.push(k);
        }
    }
    let mut outcomes: Vec<Option<Result<Done, Error>>> = ids.iter().map(|id| Some(Ok(Done::Stored(*id)))).collect();
    match ledger.apply_payment_notifications(&to_apply, now).await {
        Ok(applied) => {
            for ((k, item), a) in which.iter().zip(&to_apply).zip(applied) {
                outcomes[*k] = Some(Ok(Done::Applied(item.id, a)));
            }
        }
        Err(e) => {
            // A lost race or a deadlock on PostgreSQL (two receivers), or the database gone: one by one, each in
            // its own transaction; once the database is found unavailable the rest are answered so at once (they
            // are stored and verified: WeChat's retry, or the recovery worker, applies them later).
            tracing::info!(error = %e, batch = to_apply.len(), "batched apply failed; applying one by one");
            let mut down = false;
            for (k, item) in which.iter().zip(&to_apply) {
                if down {
                    outcomes[*k] = Some(Err(Error::Unavailable));
                    continue;
                }
                let apply = || {
                    ledger.apply_payment_notification_relayed(item.id, &item.facts, now, item.relay_payload.as_deref())
                };
                let mut one = apply().await;
                if one.as_ref().is_err_and(ledger::Error::is_unavailable) {
                    // A deadlock victim is "unavailable" too: once more before concluding the database is gone.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    one = apply().await;
                }
                down = one.as_ref().is_err_and(ledger::Error::is_unavailable);
                outcomes[*k] = Some(one.map(|a| Done::Applied(item.id, a)).map_err(Error::from));
            }
        }
    }
    drop(turn);
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        let _ = job.reply.send(outcome.unwrap_or(Err(Error::Internal)));
    }
}

fn answer_all(jobs: Vec<Job>, e: &Error) {
    for job in jobs {
        let _ = job.reply.send(Err(clone_error(e)));
    }
}

/// The answer-relevant part of an error (internals were logged where it was made).
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Unavailable => Error::Unavailable,
        _ => Error::Internal,
    }
}
