//! Group commit: one writer thread runs every transaction, syncer threads make them durable.
//!
//! Requests' jobs queue up in an inbox. The writer opens a transaction (`BEGIN IMMEDIATE`), runs
//! each job against the in-memory image (one that fails leaves no trace) and writes what it
//! changed into the file, and keeps taking jobs into the same transaction for as long as the
//! syncers are busy; once one is free it commits (`synchronous = NORMAL`: no disk wait inside
//! `COMMIT`) and hands the group over. The syncer syncs the WAL ([`Wal::sync`]) and only then
//! answers the group's jobs. So the disk is never idle while work is waiting, each sync carries
//! everything that arrived while the others ran, and no job is answered before its writes are
//! durable. Jobs run one after another, so a rotation's read and its write never interleave with
//! another one's; a job may read what an earlier, not yet durable job wrote, and is then
//! answered after a sync that started after its own commit, which covers the earlier one too.
//!
//! A failed sync leaves the file's state unknown (a later sync may report success without the
//! lost writes), and a failed write leaves the image ahead of the file: either fails its jobs and
//! every later one, and the store refuses to answer until it is reopened (which reads the file).

use super::Db;
use super::wal::Wal;
use crate::store::{CommitStats, Job, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// At most this many jobs share one transaction (bounds a commit's latency).
const MAX_GROUP: usize = 256;

/// The writer checkpoints the WAL into the database after this many jobs (a rotation adds about
/// one 4 KiB page to the WAL): rarely, because each checkpoint syncs the database file, and after
/// handing a group over, so the syncers work meanwhile. (SQLite's own automatic checkpoint would
/// run inside `COMMIT`, before the group could be handed over.)
const CHECKPOINT_EVERY: u64 = 1024;

/// Groups committed and not yet synced, at most; as many syncer threads. With one, a group
/// waits for the previous group's sync before it can commit, so at 16 concurrent chains the
/// chains split into two cohorts that take turns; with two, a group commits as soon as the
/// previous one is on its way to the disk (concurrent syncs of one file overlap). Measured at 16
/// chains against the binary, two rounds each: 5,546 and 4,665 req/s with one, 6,706 and 6,358
/// with two, 6,112 and 5,660 with three, 6,635 and 6,018 with four.
const MAX_UNSYNCED: usize = 2;

type Group = Vec<Box<dyn Job>>;

/// The store's side of the pipeline: submit jobs, read counters; dropping it stops the threads
/// once they have answered what they hold.
pub(super) struct Pipeline {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    /// Signalled when jobs arrive, a sync completes, or the store closes.
    wake: Condvar,
    counters: Counters,
}

#[derive(Default)]
struct Inbox {
    jobs: Group,
    /// Groups committed and handed to the syncers, not yet synced.
    unsynced: usize,
    /// Why the store can no longer promise durability (a sync failed).
    broken: Option<String>,
    /// The store was dropped: finish what is held, then stop.
    closed: bool,
}

impl Pipeline {
    /// Starts the writer (on `db`) and the syncers (on the WAL of the file at `path`).
    pub(super) fn start(db: Arc<Mutex<Db>>, path: &Path) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (to_syncer, groups) = channel();
        let groups = Arc::new(Mutex::new(groups));
        for _ in 0..MAX_UNSYNCED {
            // Each syncer its own handle: see `Wal`.
            let wal = Wal::open(path)?;
            let (s, groups) = (shared.clone(), groups.clone());
            std::thread::Builder::new()
                .name("sqlite-sync".into())
                .spawn(move || sync_loop(&wal, &s, &groups))?;
        }
        let s = shared.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&db, &s, &to_syncer))?;
        Ok(Self { shared })
    }

    /// Queues `job` for the writer.
    pub(super) fn submit(&self, job: Box<dyn Job>) {
        self.shared.inbox().jobs.push(job);
        self.shared.wake.notify_all();
    }

    /// Why the store can no longer promise durability, if it cannot.
    pub(super) fn broken(&self) -> Option<String> {
        self.shared.inbox().broken.clone()
    }

    /// Marks the store unable to promise durability.
    pub(super) fn break_with(&self, reason: String) {
        self.shared.break_with(reason);
    }

    pub(super) fn stats(&self) -> CommitStats {
        self.shared.counters.snapshot()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shared.inbox().closed = true;
        self.shared.wake.notify_all();
    }
}

/// What the writer does next inside an open transaction.
enum Next {
    /// Run these jobs in it.
    Run(Group),
    /// Commit it.
    Commit,
}

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // Nothing panics while holding the lock, but a poisoned inbox is still consistent.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, inbox: MutexGuard<'a, Inbox>) -> MutexGuard<'a, Inbox> {
        self.wake
            .wait(inbox)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until there are jobs (`None`: closed and drained).
    fn first_jobs(&self) -> Option<Group> {
        let mut inbox = self.inbox();
        loop {
            if !inbox.jobs.is_empty() {
                let take = inbox.jobs.len().min(MAX_GROUP);
                return Some(inbox.jobs.drain(..take).collect());
            }
            if inbox.closed {
                return None;
            }
            inbox = self.wait(inbox);
        }
    }

    /// With `held` jobs in the open transaction: more jobs to run, or time to commit (a syncer
    /// is free, or the store is closing or broken). Waits while neither.
    fn next(&self, held: usize) -> Next {
        let mut inbox = self.inbox();
        loop {
            if !inbox.jobs.is_empty() && held < MAX_GROUP {
                let room = MAX_GROUP - held;
                let take = inbox.jobs.len().min(room);
                return Next::Run(inbox.jobs.drain(..take).collect());
            }
            if inbox.unsynced < MAX_UNSYNCED || inbox.closed || inbox.broken.is_some() {
                return Next::Commit;
            }
            inbox = self.wait(inbox);
        }
    }

    fn handed_over(&self) {
        self.inbox().unsynced += 1;
    }

    fn synced(&self, groups: usize) {
        let mut inbox = self.inbox();
        inbox.unsynced = inbox.unsynced.saturating_sub(groups);
        drop(inbox);
        self.wake.notify_all();
    }

    fn break_with(&self, reason: String) {
        self.inbox().broken.get_or_insert(reason);
        self.wake.notify_all();
    }
}

/// The writer thread: until the store is dropped, run what queues up in one transaction per
/// group, commit, hand over to the syncer.
fn write_loop(db: &Mutex<Db>, shared: &Shared, syncer: &Sender<Group>) {
    let mut since_checkpoint = 0;
    while let Some(jobs) = shared.first_jobs() {
        if let Some(reason) = shared.inbox().broken.clone() {
            fail(jobs, &reason);
            continue;
        }
        let mut group = Vec::with_capacity(jobs.len());
        // A poisoned lock means a panic while writing, which breaks the store (below).
        let committed = {
            let mut db = db.lock().unwrap_or_else(PoisonError::into_inner);
            run_group(&mut db, shared, jobs, &mut group)
        };
        let counters = &shared.counters;
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters
            .jobs
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        if let Err(e) = committed {
            // The image may be ahead of the file: nothing more can be promised.
            let reason = format!("writing the file failed: {e}");
            shared.break_with(reason.clone());
            fail(group, &reason);
            continue;
        }
        since_checkpoint += group.len() as u64;
        shared.handed_over();
        if let Err(lost) = syncer.send(group) {
            let reason = "the WAL sync thread stopped".to_owned();
            shared.break_with(reason.clone());
            shared.synced(1);
            fail(lost.0, &reason);
        }
        if since_checkpoint >= CHECKPOINT_EVERY {
            since_checkpoint = 0;
            let started = Instant::now();
            let db = db.lock().unwrap_or_else(PoisonError::into_inner);
            // A failed checkpoint leaves the WAL as it was (and longer): harmless, retried later.
            let _ = db.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
            Counters::add(&shared.counters.checkpoint_nanos, started);
        }
    }
}

/// One transaction: `jobs`, then whatever [`Shared::next`] adds, each moved into `group` as it
/// runs; committed when a syncer is free.
fn run_group(
    db: &mut Db,
    shared: &Shared,
    mut jobs: Group,
    group: &mut Group,
) -> rusqlite::Result<()> {
    // Held in `group` from the start, so that a failure anywhere fails them all.
    let mut ran = group.len();
    group.append(&mut jobs);
    db.conn.execute_batch("BEGIN IMMEDIATE;")?;
    let mut deleted = false;
    let written = (|| {
        loop {
            let started = Instant::now();
            for job in &mut group[ran..] {
                deleted |= db.run(job.as_mut())?;
            }
            ran = group.len();
            Counters::add(&shared.counters.run_nanos, started);
            match shared.next(group.len()) {
                Next::Run(mut more) => group.append(&mut more),
                Next::Commit => break,
            }
        }
        if deleted {
            db.reclaim()?;
        }
        let started = Instant::now();
        db.conn.execute_batch("COMMIT;")?;
        Counters::add(&shared.counters.commit_nanos, started);
        Ok(())
    })();
    if written.is_err() {
        let _ = db.conn.execute_batch("ROLLBACK;");
    }
    written
}

/// The syncer thread: sync the WAL once for every group committed since the last sync, then
/// answer their jobs.
fn sync_loop(wal: &Wal, shared: &Shared, groups: &Mutex<Receiver<Group>>) {
    loop {
        let batch = {
            let groups = groups.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(first) = groups.recv() else { return };
            let mut batch = vec![first];
            batch.extend(groups.try_iter());
            batch
        };
        let broken = shared.inbox().broken.clone();
        let outcome = match broken {
            Some(reason) => Err(reason),
            None => {
                let started = Instant::now();
                let synced = wal.sync();
                Counters::add(&shared.counters.sync_nanos, started);
                shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
                synced.map_err(|e| format!("syncing the WAL failed: {e}"))
            }
        };
        if let Err(reason) = &outcome {
            shared.break_with(reason.clone());
        }
        shared.synced(batch.len());
        for job in batch.into_iter().flatten() {
            job.finish(outcome.clone().map_err(StoreError::NotDurable));
        }
    }
}

/// Answers `jobs` with the reason the store can no longer promise durability.
fn fail(jobs: Group, reason: &str) {
    for job in jobs {
        job.finish(Err(StoreError::NotDurable(reason.to_owned())));
    }
}

/// [`CommitStats`], updated by the two threads.
#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
    syncs: AtomicU64,
    run_nanos: AtomicU64,
    commit_nanos: AtomicU64,
    sync_nanos: AtomicU64,
    checkpoint_nanos: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            run_nanos: self.run_nanos.load(Ordering::Relaxed),
            commit_nanos: self.commit_nanos.load(Ordering::Relaxed),
            sync_nanos: self.sync_nanos.load(Ordering::Relaxed),
            checkpoint_nanos: self.checkpoint_nanos.load(Ordering::Relaxed),
        }
    }
}
