//! Durable store on one SQLite file (`--db FILE`).
//!
//! Durability: WAL journal with `synchronous = FULL`, so a transaction's commit is fsynced to the
//! WAL before `COMMIT` returns, and the HTTP response that reports a rotation is only written
//! after that. A process crash (SIGKILL) would already be covered by `NORMAL` in WAL mode; FULL
//! also covers power loss, which is the promise a token server makes when it answers 200: the
//! client has dropped its old refresh token, so the new one must survive anything.
//!
//! Group commit: requests' transactions go to one writer thread, which runs whatever has queued
//! up (each in its own savepoint, so one that fails rolls back alone) inside one
//! `BEGIN IMMEDIATE … COMMIT`, then answers them all: concurrent rotations share one fsync, and
//! none is answered before it is durable. Jobs run one after another, so a rotation's read and
//! its write never interleave with another one's.
//!
//! Space: new files use `auto_vacuum = INCREMENTAL`; every purge hands the pages it freed back
//! to the file system (`PRAGMA incremental_vacuum`).

use super::{CommitStats, Job, Kind, Put, Retention, Store, StoreError, Tx};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

/// At most this many requests share one commit (bounds a commit's latency).
const MAX_GROUP: usize = 256;

/// SQLite-backed store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    jobs: Sender<Box<dyn Job>>,
    counters: Arc<Counters>,
    retention: Retention,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, keeping every record.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Retention::keep_all())
    }

    /// Opens (creating if needed) the database file, keeping records as `retention` says.
    pub fn open_with(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Only takes effect on a new file (before its first table); older files keep theirs.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::RolledBack(format!(
                "cannot enable WAL (journal_mode = {mode})"
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS records (
                 kind   INTEGER NOT NULL,
                 key    TEXT NOT NULL,
                 family TEXT,
                 value  TEXT NOT NULL,
                 purge_after INTEGER,
                 PRIMARY KEY (kind, key)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS records_by_family ON records (kind, family);",
        )?;
        let has_deadline: bool = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('records') WHERE name = 'purge_after'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_deadline {
            // A file from before purging: its records keep no deadline and stay.
            conn.execute_batch("ALTER TABLE records ADD COLUMN purge_after INTEGER;")?;
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS records_by_deadline ON records (kind, purge_after)
                 WHERE purge_after IS NOT NULL;",
        )?;
        let conn = Arc::new(Mutex::new(conn));
        let (jobs, queue) = channel();
        let (writer, counters) = (conn.clone(), Arc::new(Counters::default()));
        let counter = counters.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&writer, &queue, &counter))
            .map_err(|_| StoreError::Task)?;
        Ok(Self {
            conn,
            jobs,
            counters,
            retention,
        })
    }

    /// How many group commits the writer thread has made.
    pub fn commits(&self) -> u64 {
        self.counters.commits.load(Ordering::Relaxed)
    }
}

/// [`CommitStats`], updated by the writer thread.
#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
    run_nanos: AtomicU64,
    commit_nanos: AtomicU64,
    sync_nanos: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, since: std::time::Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
            run_nanos: self.run_nanos.load(Ordering::Relaxed),
            commit_nanos: self.commit_nanos.load(Ordering::Relaxed),
            sync_nanos: self.sync_nanos.load(Ordering::Relaxed),
        }
    }
}

/// The writer thread: until the store is dropped, take what has queued up and commit it as one
/// transaction.
fn write_loop(conn: &Mutex<Connection>, queue: &Receiver<Box<dyn Job>>, counters: &Counters) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Every use of the connection either commits or rolls back, so a poisoned lock is sound.
        let committed = {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            commit_group(&mut conn, &mut group, counters).map_err(|e| e.to_string())
        };
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters.jobs.fetch_add(group.len() as u64, Ordering::Relaxed);
        for job in group {
            job.finish(committed.clone().map_err(StoreError::RolledBack));
        }
    }
}

/// One transaction for the whole group, one savepoint per job.
fn commit_group(
    conn: &mut Connection,
    group: &mut [Box<dyn Job>],
    counters: &Counters,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in group.iter_mut() {
        let sp = tx.savepoint()?;
        // A panicking job counts as failed: its savepoint is rolled back, the others stand.
        let keep = catch_unwind(AssertUnwindSafe(|| job.run(&mut SqliteTx { conn: &sp })))
            .unwrap_or(false);
        if keep {
            sp.commit()?;
        } else {
            let mut sp = sp;
            sp.rollback()?;
            sp.commit()?;
        }
    }
    Counters::add(&counters.run_nanos, started);
    let started = std::time::Instant::now();
    tx.commit()?;
    Counters::add(&counters.commit_nanos, started);
    Ok(())
}

struct SqliteTx<'a> {
    conn: &'a Connection,
}

impl Tx for SqliteTx<'_> {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM records WHERE kind = ?1 AND key = ?2")?;
        Ok(stmt
            .query_row(params![kind.id(), key], |r| r.get(0))
            .optional()?)
    }

    fn put(&mut self, p: Put<'_>) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO records (kind, key, family, value, purge_after) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, key) DO UPDATE SET family = excluded.family,
                 value = excluded.value, purge_after = excluded.purge_after",
        )?;
        let deadline = p.purge_after.map(clamp);
        stmt.execute(params![p.kind.id(), p.key, p.family, p.value, deadline])?;
        Ok(())
    }

    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM records WHERE kind = ?1 AND family = ?2")?;
        let rows = stmt.query_map(params![kind.id(), family], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }

    fn purge(&mut self, kind: Kind, now: u64, limit: usize) -> Result<usize, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM records WHERE kind = ?1 AND key IN (
                 SELECT key FROM records WHERE kind = ?1 AND purge_after <= ?2
                 ORDER BY purge_after LIMIT ?3)
             RETURNING family",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let families = stmt
            .query_map(params![kind.id(), clamp(now), limit], |r| {
                r.get::<_, Option<String>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let gone = families.len();
        if matches!(kind, Kind::Refresh | Kind::Access) {
            let mut orphan = self.conn.prepare_cached(
                "DELETE FROM records WHERE kind = ?1 AND key = ?2 AND NOT EXISTS (
                     SELECT 1 FROM records WHERE kind IN (?3, ?4) AND family = ?2)",
            )?;
            let mut families: Vec<String> = families.into_iter().flatten().collect();
            families.sort();
            families.dedup();
            for f in families {
                orphan.execute(params![
                    Kind::Family.id(),
                    f,
                    Kind::Refresh.id(),
                    Kind::Access.id()
                ])?;
            }
        }
        if gone > 0 {
            self.conn.execute_batch("PRAGMA incremental_vacuum;")?;
        }
        Ok(gone)
    }

    fn count(&mut self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// SQLite integers are signed.
fn clamp(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        // The connection is only ever used inside a transaction that either commits or rolls
        // back (dropping a rusqlite Transaction rolls back), so a poisoned lock is still sound.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let commit = f(&mut SqliteTx { conn: &tx });
        if commit {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        Ok(())
    }

    fn submit(self: Arc<Self>, job: Box<dyn Job>) {
        let sent = self.jobs.send(job);
        // Only if the writer thread died: tell the job instead of leaving it waiting.
        if let Err(failed) = sent {
            failed.0.finish(Err(StoreError::Task));
        }
    }

    fn retention(&self) -> Retention {
        self.retention
    }

    fn commit_stats(&self) -> Option<CommitStats> {
        Some(self.counters.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Family, run};

    #[test]
    fn new_files_vacuum_incrementally() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db")).expect("open");
        let conn = store.conn.lock().expect("lock");
        let mode: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, 2, "INCREMENTAL");
    }

    /// Counts in one record; job 7 writes elsewhere and fails.
    struct Count {
        i: u64,
        done: std::sync::mpsc::Sender<Result<(), StoreError>>,
    }

    impl Job for Count {
        fn run(&mut self, tx: &mut dyn Tx) -> bool {
            let put = |key, value| Put {
                kind: Kind::Jti,
                key,
                family: None,
                value,
                purge_after: None,
            };
            if self.i == 7 {
                tx.put(put("doomed", "7")).expect("put");
                return false;
            }
            let seen: u64 = tx
                .get(Kind::Jti, "counter")
                .expect("get")
                .map_or(0, |v| v.parse().expect("number"));
            tx.put(put("counter", &(seen + 1).to_string()))
                .expect("put");
            true
        }

        fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
            let _ = self.done.send(committed);
        }
    }

    /// Requests that queue up while the writer is busy share one transaction; each sees the
    /// writes of those before it, and a failing one rolls back alone.
    #[test]
    fn queued_requests_share_one_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("t.db")).expect("open"));
        let store: Arc<dyn Store> = sqlite.clone();
        let (done, answers) = std::sync::mpsc::channel();
        {
            // Hold the writer off while 50 requests queue up.
            let _busy = sqlite.conn.lock().expect("lock");
            for i in 0..50 {
                let done = done.clone();
                store.clone().submit(Box::new(Count { i, done }));
            }
        }
        for _ in 0..50 {
            answers.recv().expect("answer").expect("committed");
        }
        // The first job alone (the writer took it before blocking), then the other 49 together.
        assert!(sqlite.commits() <= 2, "{} commits", sqlite.commits());
        let (counter, doomed) = run(&*store, |r| {
            let c: Option<u64> = r.get_json(Kind::Jti, "counter").expect("get");
            let d: Option<u64> = r.get_json(Kind::Jti, "doomed").expect("get");
            (c, d)
        })
        .expect("tx");
        assert_eq!(counter, Some(49));
        assert_eq!(doomed, None);
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let fam = Family {
            id: "f1".into(),
            client_id: "c".into(),
            subject: None,
            scope: "a".into(),
            grant_type: "password".into(),
            created_at: 1,
            auth_time: None,
            refresh_revoked: false,
            access_revoked: false,
            dpop_jkt: None,
            current_access: None,
        };
        {
            let store = SqliteStore::open(&path).expect("open");
            run(&store, |r| r.put_family(&fam))
                .expect("tx")
                .expect("put");
        }
        let store = SqliteStore::open(&path).expect("reopen");
        let back = run(&store, |r| r.family("f1")).expect("tx").expect("get");
        assert_eq!(back, Some(fam));
    }
}
