//! Durable store on one SQLite file (`--db FILE`).
//!
//! Durability: WAL journal with `synchronous = FULL`, so a transaction's commit is fsynced to the
//! WAL before `COMMIT` returns, and the HTTP response that reports a rotation is only written
//! after that. A process crash (SIGKILL) would already be covered by `NORMAL` in WAL mode; FULL
//! also covers power loss, which is the promise a token server makes when it answers 200: the
//! client has dropped its old refresh token, so the new one must survive anything.
//!
//! Every transaction is `BEGIN IMMEDIATE`: the write lock is taken up front, so a rotation's read
//! and its write can never interleave with another one's.

use super::{Kind, Store, StoreError, Tx};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::Mutex;

/// SQLite-backed store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
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
                 PRIMARY KEY (kind, key)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS records_by_family ON records (kind, family);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl Tx for SqliteTx<'_> {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT value FROM records WHERE kind = ?1 AND key = ?2")?;
        Ok(stmt
            .query_row(params![kind.id(), key], |r| r.get(0))
            .optional()?)
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        family: Option<&str>,
        value: &str,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO records (kind, key, family, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, key) DO UPDATE SET family = excluded.family, value = excluded.value",
        )?;
        stmt.execute(params![kind.id(), key, family, value])?;
        Ok(())
    }

    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT value FROM records WHERE kind = ?1 AND family = ?2")?;
        let rows = stmt.query_map(params![kind.id(), family], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }
}

impl Store for SqliteStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        // The connection is only ever used inside a transaction that either commits or rolls
        // back (dropping a rusqlite Transaction rolls back), so a poisoned lock is still sound.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let commit = {
            let mut t = SqliteTx { tx: &tx };
            f(&mut t)
        };
        if commit {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        Ok(())
    }

    fn blocking(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Family, run};

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
