//! Durable store on one SQLite file (`--db FILE`).
//!
//! The records live in memory, in the memory store's maps ([`State`]), and the file is their
//! durable copy: a transaction runs against the in-memory image, and its writes go to the file
//! (the new version of each record appended, the previous one deleted; see [`schema`]) and are
//! synced before anyone is answered. Opening the store reads the file back into memory. So a
//! lookup costs what it costs in memory, and a commit writes only what changed. The image is the
//! process's own: one server per file.
//!
//! Durability: a response that reports a rotation is only written once the rotation is on disk,
//! surviving power loss, not just a crash: the client drops its old refresh token when it hears
//! 200, so the new one must survive anything. The database runs in WAL mode; `COMMIT` writes the
//! transaction's frames to the WAL (`synchronous = NORMAL`), and the WAL is then synced
//! (`fdatasync`) before anyone is answered ([`wal`]): what `synchronous = FULL` does inside
//! `COMMIT`, done outside it so that the next transaction runs while the disk syncs.
//!
//! Group commit ([`group`]): requests' transactions go to one writer thread, which runs whatever
//! has queued up in one SQLite transaction while the previous groups are being synced; one sync
//! then covers the whole group, and answers it.
//!
//! Space: new files use `auto_vacuum = INCREMENTAL`; every purge hands the pages it freed back
//! to the file system (`PRAGMA incremental_vacuum`).

mod group;
mod schema;
mod wal;

use super::memory::{Entry, MemoryTx, State, Write};
use super::{CommitStats, Job, Kind, Retention, Store, StoreError, Tx};
use group::Pipeline;
use rusqlite::{Connection, params};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use wal::Wal;

/// SQLite-backed store.
#[derive(Debug)]
pub struct SqliteStore {
    db: Arc<Mutex<Db>>,
    /// For [`Store::transact`]; the syncers have their own.
    wal: Wal,
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
        // NORMAL: commits are synced by `Wal::sync`, before anyone is answered. The writer
        // checkpoints (see `group`).
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")?;
        schema::prepare(&conn)?;
        let db = Db::load(conn)?;
        let not_durable = |e: std::io::Error| StoreError::NotDurable(e.to_string());
        let wal = Wal::open(path).map_err(not_durable)?;
        // Whatever opening wrote.
        wal.sync().map_err(not_durable)?;
        let db = Arc::new(Mutex::new(db));
        let pipeline = Pipeline::start(db.clone(), path).map_err(not_durable)?;
        Ok(Self {
            db,
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

/// The file and its in-memory image, in step between transactions.
#[derive(Debug)]
struct Db {
    conn: Connection,
    image: State,
}

impl Db {
    /// Reads every record of the file into memory.
    fn load(conn: Connection) -> Result<Self, StoreError> {
        let mut image = State::default();
        let mut stale = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT id, kind, key, family, value, purge_after FROM records ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (row, kind): (i64, i64) = (r.get(0)?, r.get(1)?);
                let kind = Kind::from_id(kind).ok_or_else(|| {
                    StoreError::RolledBack(format!("record {row} has an unknown kind {kind}"))
                })?;
                let entry = Entry {
                    value: r.get(4)?,
                    family: r.get(3)?,
                    purge_after: r.get::<_, Option<i64>>(5)?.map(unclamp),
                    row: Some(row),
                };
                // Only one version of a record is ever kept; should two be found, the later
                // one is the record.
                if let Some(older) = image.insert(kind, r.get(2)?, entry) {
                    stale.extend(older.row);
                }
            }
        }
        let db = Self { conn, image };
        for row in stale {
            db.delete(row)?;
        }
        Ok(db)
    }

    /// Runs `job` on the image and, if it succeeds, writes what it wrote into the open
    /// transaction; `Ok(true)` when it deleted records (a purge). An error leaves the image
    /// ahead of the file: the store must not be used any further.
    fn run(&mut self, job: &mut dyn Job) -> rusqlite::Result<bool> {
        let mut tx = MemoryTx::new(&mut self.image);
        // A panicking job counts as failed: its writes are dropped, the others stand.
        let keep = catch_unwind(AssertUnwindSafe(|| job.run(&mut tx))).unwrap_or(false);
        let writes = tx.into_writes();
        if !keep {
            return Ok(false);
        }
        self.write(writes)
    }

    /// Applies `writes` to the file and the image; `Ok(true)` when records were deleted.
    fn write(&mut self, writes: Vec<(Kind, String, Write)>) -> rusqlite::Result<bool> {
        let mut deleted = false;
        for (kind, key, write) in writes {
            match write {
                Write::Put(mut entry) => {
                    let mut insert = self.conn.prepare_cached(
                        "INSERT INTO records (kind, key, family, value, purge_after)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    let deadline = entry.purge_after.map(clamp);
                    insert.execute(params![kind.id(), key, entry.family, entry.value, deadline])?;
                    entry.row = Some(self.conn.last_insert_rowid());
                    if let Some(row) = self.image.insert(kind, key, entry).and_then(|e| e.row) {
                        self.delete(row)?;
                    }
                }
                Write::Delete => {
                    for row in self
                        .image
                        .remove(kind, &key)
                        .into_iter()
                        .filter_map(|e| e.row)
                    {
                        self.delete(row)?;
                        deleted = true;
                    }
                }
            }
        }
        Ok(deleted)
    }

    fn delete(&self, row: i64) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM records WHERE id = ?1")?;
        stmt.execute([row])?;
        Ok(())
    }

    /// Hands the pages purges freed back to the file system.
    fn reclaim(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch("PRAGMA incremental_vacuum;")
    }
}

/// SQLite integers are signed.
fn clamp(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn unclamp(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

impl Store for SqliteStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        // A poisoned lock: a panic in `f` (before anything was written) or in a write, after
        // which the store is broken anyway (see below).
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = self.pipeline.broken() {
            return Err(StoreError::NotDurable(reason));
        }
        let mut tx = MemoryTx::new(&mut db.image);
        let commit = f(&mut tx);
        let writes = tx.into_writes();
        if commit && !writes.is_empty() {
            let written = (|| {
                db.conn.execute_batch("BEGIN IMMEDIATE;")?;
                if db.write(writes)? {
                    db.reclaim()?;
                }
                db.conn.execute_batch("COMMIT;")
            })();
            if let Err(e) = written {
                let reason = format!("writing the file failed: {e}");
                self.pipeline.break_with(reason.clone());
                let _ = db.conn.execute_batch("ROLLBACK;");
                return Err(StoreError::NotDurable(reason));
            }
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
    use crate::store::{Family, Put, run};

    #[test]
    fn new_files_vacuum_incrementally() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db")).expect("open");
        let db = store.db.lock().expect("lock");
        let mode: i64 = db
            .conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, 2, "INCREMENTAL");
    }

    fn rows(path: &Path) -> Vec<(i64, String, String)> {
        let conn = Connection::open(path).expect("open");
        let mut stmt = conn
            .prepare("SELECT kind, key, value FROM records ORDER BY kind, key")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    /// A seen-JWT-id record.
    fn jti<'a>(key: &'a str, value: &'a str, purge_after: Option<u64>) -> Put<'a> {
        Put {
            kind: Kind::Jti,
            key,
            family: None,
            value,
            purge_after,
        }
    }

    /// The file holds exactly the image: one row per record (a rewritten record replaces its
    /// row, a purged one loses it), and reopening reads back the same records.
    #[test]
    fn the_file_holds_one_row_per_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            let put = |key: &str, value: &str, purge_after: Option<u64>, keep: bool| {
                store
                    .transact(&mut |tx| {
                        tx.put(jti(key, value, purge_after)).expect("put");
                        keep
                    })
                    .expect("tx");
            };
            put("a", "1", Some(10), true);
            put("b", "1", None, true);
            put("a", "2", Some(10), true);
            put("a", "3", Some(10), true);
            // A failed transaction writes nothing.
            put("c", "1", None, false);
            assert_eq!(
                rows(&path),
                [(7, "a".into(), "3".into()), (7, "b".into(), "1".into())]
            );
            let gone = run(&store, |r| r.purge(10, 10, 100).expect("purge")).expect("tx");
            assert_eq!(gone, 1);
            assert_eq!(rows(&path), [(7, "b".into(), "1".into())]);
        }
        let store = SqliteStore::open(&path).expect("reopen");
        let mut seen = Vec::new();
        store
            .transact(&mut |tx| {
                seen = vec![
                    tx.get(Kind::Jti, "a").expect("a"),
                    tx.get(Kind::Jti, "b").expect("b"),
                ];
                seen.push(Some(tx.count().expect("count").to_string()));
                true
            })
            .expect("tx");
        assert_eq!(seen, [None, Some("1".into()), Some("1".into())]);
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
            let _busy = sqlite.db.lock().expect("lock");
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

    /// Once a sync fails nothing is answered as durable any more, through the writer or not,
    /// until the store is reopened: a later sync could succeed without the lost writes.
    #[test]
    fn a_failed_sync_fails_everything_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let sqlite = Arc::new(SqliteStore::open(&path).expect("open"));
        let store: Arc<dyn Store> = sqlite.clone();
        let (done, answers) = std::sync::mpsc::channel();
        store.clone().submit(Box::new(Count {
            i: 0,
            done: done.clone(),
        }));
        answers.recv().expect("answer").expect("durable");
        // The WAL's name now denotes another file: syncing the one SQLite writes to is no
        // longer possible through it, which the sync notices.
        let wal = dir.path().join("t.db-wal");
        std::fs::rename(&wal, dir.path().join("elsewhere")).expect("rename");
        std::fs::write(&wal, b"").expect("impostor");
        store.clone().submit(Box::new(Count {
            i: 1,
            done: done.clone(),
        }));
        let e = answers.recv().expect("answer").expect_err("not durable");
        assert!(matches!(e, StoreError::NotDurable(_)), "{e}");
        // The WAL back where it was: syncs would succeed again, but what the failed one held
        // cannot be vouched for.
        std::fs::rename(dir.path().join("elsewhere"), &wal).expect("rename back");
        store.clone().submit(Box::new(Count { i: 2, done }));
        let e = answers.recv().expect("answer").expect_err("still refused");
        assert!(matches!(e, StoreError::NotDurable(_)), "{e}");
        let e = run(&*store, |r| r.count()).expect_err("not durable either");
        assert!(matches!(e, StoreError::NotDurable(_)), "{e}");
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
