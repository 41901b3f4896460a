//! Shared commits for the access-log records of requests that change nothing (reads,
//! refusals): the group commit of the access log.
//!
//! A read must not answer before its record is durable (docs/access-log.md), so on its own each
//! read pays for a commit and its WAL flush. The recorder takes the records of
//! concurrent requests and writes all that are waiting with one statement, in one
//! commit; each request waits for the commit that holds its record and fails closed if
//! it fails. Nothing waits for a batch to fill: a record that arrives while nothing is
//! being written is written at once, alone; records that arrive while a commit is under
//! way form the next one. The batches are as large as the load makes them.
//!
//! A write records in its own transaction instead (`access_log::record`), so that the write
//! and its record commit together.

use tokio::sync::{mpsc, oneshot};

use crate::access_log::{self, AccessRecord};
use crate::{DbError, Pool};

/// Most records in one commit.
pub const MAX_BATCH: usize = 128;

/// A handle on the writer task; cheap to clone. The task ends when the last handle is
/// dropped, after writing what it was given.
#[derive(Clone)]
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    record: AccessRecord,
    done: oneshot::Sender<Result<(), DbError>>,
}

impl Recorder {
    /// Starts the writer on the current runtime, with connections from `pool` (one at a
    /// time: the next batch forms while one commits).
    pub fn start(pool: Pool) -> Recorder {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(pool, queue));
        Recorder { jobs }
    }

    /// Writes `record` and returns once it is committed, or with the reason it is not.
    pub async fn record(&self, record: AccessRecord) -> Result<(), DbError> {
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(Job { record, done })
            .await
            .map_err(|_| DbError::Unavailable("the access-log recorder stopped"))?;
        committed.await.map_err(|_| DbError::Unavailable("the access-log recorder stopped"))?
    }
}

async fn run(pool: Pool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        write(&pool, &mut jobs).await;
    }
}

/// Writes the records of `jobs` in one commit and answers each job. If the shared write
/// fails, each record is written alone, so that one record the database refuses fails
/// only its own request.
async fn write(pool: &Pool, jobs: &mut Vec<Job>) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, records = jobs.len(), "no connection for the access-log records");
            for job in jobs.drain(..) {
                let _ = job.done.send(Err(DbError::Unavailable("no database connection for the access log")));
            }
            return;
        }
    };
    let shared = if jobs.len() > 1 {
        let records: Vec<&AccessRecord> = jobs.iter().map(|j| &j.record).collect();
        match access_log::record_rows(&client, &records).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, records = jobs.len(), "shared access-log commit failed; writing each alone");
                false
            }
        }
    } else {
        false
    };
    for job in jobs.drain(..) {
        let written = if shared { Ok(()) } else { access_log::record(&client, &job.record).await.map(drop) };
        // The request may have gone (its client hung up); its record stands.
        let _ = job.done.send(written);
    }
}
