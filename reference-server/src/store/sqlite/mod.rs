//! Durable store on one SQLite file (`--db FILE`).
//!
//! Durability: a response that reports a rotation is only written once the rotation is on disk,
//! surviving power loss, not just a crash: the client drops its old refresh token when it hears
//! 200, so the new one must survive anything. The database runs in WAL mode; `COMMIT` writes the
//! transaction's frames to the WAL (`synchronous = NORMAL`), and the WAL is then synced
//! (`fdatasync`) before anyone is answered ([`wal`]): what `synchronous = FULL` does inside
//! `COMMIT`, done outside it so that the next transaction runs while the disk syncs.
//!
//! Group commit ([`group`]): requests' transactions go to one writer thread, which runs whatever
//! has queued up in one transaction (each job in its own savepoint) while the previous group is
//! being synced; one sync then covers the whole group, and answers it.
//!
//! Layout: see [`schema`]. Space: new files use `auto_vacuum = INCREMENTAL`; every purge hands
//! the pages it freed back to the file system (`PRAGMA incremental_vacuum`).

mod group;
mod schema;
mod wal;

use super::{CommitStats, Job, Kind, Put, Retention, Store, StoreError, Tx};
use group::Pipeline;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use wal::Wal;

/// SQLite-backed store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    wal: Arc<Wal>,
    pipeline: Pipeline,
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
        schema::new_file_settings(&conn)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::RolledBack(format!(
                "cannot enable WAL (journal_mode = {mode})"
            )));
        }
        // NORMAL: commits are synced by `Wal::sync`, before anyone is answered.
        // The writer checkpoints (see `group`); 32 MiB of page cache.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
             PRAGMA cache_size = -32768;",
        )?;
        schema::prepare(&conn)?;
        let wal = Wal::open(path).map_err(|e| StoreError::NotDurable(e.to_string()))?;
        // Whatever the setup above wrote.
        wal.sync().map_err(|e| StoreError::NotDurable(e.to_string()))?;
        let (conn, wal) = (Arc::new(Mutex::new(conn)), Arc::new(wal));
        let pipeline = Pipeline::start(conn.clone(), wal.clone()).map_err(|_| StoreError::Task)?;
        Ok(Self {
            conn,
            wal,
            pipeline,
            retention,
        })
    }

    /// How many group commits the writer thread has made.
    pub fn commits(&self) -> u64 {
        self.pipeline.stats().commits
    }
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
            "DELETE FROM records WHERE id IN (
                 SELECT id FROM records WHERE kind = ?1 AND purge_after <= ?2
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
        if let Some(reason) = self.pipeline.broken() {
            return Err(StoreError::NotDurable(reason));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let commit = f(&mut SqliteTx { conn: &tx });
        if commit {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        // Read-only or not, the transaction may have seen writes not yet synced: answer after
        // they are durable, as the writer's jobs are.
        self.wal.sync().map_err(|e| {
            let reason = format!("syncing the WAL failed: {e}");
            self.pipeline.break_with(reason.clone());
            StoreError::NotDurable(reason)
        })
    }

    fn submit(self: Arc<Self>, job: Box<dyn Job>) {
        self.pipeline.submit(job);
    }

    fn retention(&self) -> Retention {
        self.retention
    }

    fn commit_stats(&self) -> Option<CommitStats> {
        Some(self.pipeline.stats())
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
