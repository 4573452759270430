//! The default store: maps behind one mutex. A transaction is the time the mutex is held, which
//! is a few map operations: short enough that serialising every request through it is cheaper
//! than anything finer-grained. Transactions run on tokio's blocking pool, never on a worker.
//!
//! The maps ([`State`]) and their transactions ([`MemoryTx`]) are also the SQLite store's image
//! of its file, which is why an [`Entry`] can name the row holding it.

use super::{Job, Kind, Put, Retention, Store, StoreError, Tx};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// One record.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) value: String,
    pub(super) family: Option<String>,
    pub(super) purge_after: Option<u64>,
    /// The row holding it in a file (the SQLite store's image); `None` in memory alone.
    pub(super) row: Option<i64>,
}

/// Every record, indexed by family and by purge deadline.
#[derive(Debug, Default)]
pub(super) struct State {
    records: HashMap<(Kind, String), Entry>,
    by_family: HashMap<(Kind, String), VecDeque<String>>,
    /// `(kind, purge_after, key)`, soonest first.
    deadlines: BTreeSet<(Kind, u64, String)>,
}

impl State {
    /// Inserts or replaces; returns the entry replaced.
    pub(super) fn insert(&mut self, kind: Kind, key: String, entry: Entry) -> Option<Entry> {
        let deadline = entry.purge_after;
        let family = entry.family.clone();
        let old = self.records.insert((kind, key.clone()), entry);
        let old_deadline = old.as_ref().and_then(|o| o.purge_after);
        if old_deadline != deadline {
            if let Some(t) = old_deadline {
                self.deadlines.remove(&(kind, t, key.clone()));
            }
            if let Some(t) = deadline {
                self.deadlines.insert((kind, t, key.clone()));
            }
        }
        // Records never change family, so indexing on first insert is enough.
        if let (None, Some(fam)) = (&old, family) {
            self.by_family
                .entry((kind, fam))
                .or_default()
                .push_back(key);
        }
        old
    }

    /// Deletes a record, and its family's when nothing else of the family is left; returns
    /// what went.
    pub(super) fn remove(&mut self, kind: Kind, key: &str) -> Vec<Entry> {
        let Some(old) = self.records.remove(&(kind, key.to_owned())) else {
            return Vec::new();
        };
        if let Some(t) = old.purge_after {
            self.deadlines.remove(&(kind, t, key.to_owned()));
        }
        let Some(fam) = old.family.clone() else {
            return vec![old];
        };
        let slot = (kind, fam.clone());
        if let Some(keys) = self.by_family.get_mut(&slot) {
            if let Some(i) = keys.iter().position(|k| k == key) {
                keys.remove(i);
            }
            if keys.is_empty() {
                self.by_family.remove(&slot);
            }
        }
        let mut gone = vec![old];
        if matches!(kind, Kind::Refresh | Kind::Access) && self.orphaned(&fam) {
            gone.extend(self.records.remove(&(Kind::Family, fam.clone())));
            self.by_family.remove(&(Kind::Family, fam));
        }
        gone
    }

    /// How many records there are.
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    fn orphaned(&self, family: &str) -> bool {
        [Kind::Refresh, Kind::Access]
            .iter()
            .all(|k| !self.by_family.contains_key(&(*k, family.to_owned())))
    }
}

/// In-memory store; everything is lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    retention: Retention,
}

impl MemoryStore {
    /// An empty store keeping records as `retention` says.
    pub fn new(retention: Retention) -> Self {
        Self {
            state: Mutex::default(),
            retention,
        }
    }
}

/// A buffered write.
#[derive(Debug)]
pub(super) enum Write {
    /// Insert or replace.
    Put(Entry),
    /// Delete (a purge).
    Delete,
}

/// A transaction on a [`State`].
pub(super) struct MemoryTx<'a> {
    state: &'a mut State,
    // Writes are buffered so a transaction that reports failure leaves no trace, like SQLite's.
    writes: Vec<(Kind, String, Write)>,
}

impl<'a> MemoryTx<'a> {
    /// Starts a transaction reading `state`.
    pub(super) fn new(state: &'a mut State) -> Self {
        Self {
            state,
            writes: Vec::new(),
        }
    }

    /// The writes, in order, for the caller to apply.
    pub(super) fn into_writes(self) -> Vec<(Kind, String, Write)> {
        self.writes
    }
}

impl MemoryTx<'_> {
    fn buffered(&self, kind: Kind, key: &str) -> Option<&Write> {
        self.writes
            .iter()
            .rev()
            .find(|(k, key2, _)| *k == kind && key2 == key)
            .map(|(_, _, w)| w)
    }
}

impl Tx for MemoryTx<'_> {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        // Read-your-writes: the newest buffered write wins.
        match self.buffered(kind, key) {
            Some(Write::Put(e)) => Ok(Some(e.value.clone())),
            Some(Write::Delete) => Ok(None),
            None => Ok(self
                .state
                .records
                .get(&(kind, key.to_owned()))
                .map(|e| e.value.clone())),
        }
    }

    fn put(&mut self, p: Put<'_>) -> Result<(), StoreError> {
        self.writes.push((
            p.kind,
            p.key.to_owned(),
            Write::Put(Entry {
                value: p.value.to_owned(),
                family: p.family.map(str::to_owned),
                purge_after: p.purge_after,
                row: None,
            }),
        ));
        Ok(())
    }

    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = self
            .state
            .by_family
            .get(&(kind, family.to_owned()))
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        for (k, key, w) in &self.writes {
            if let Write::Put(e) = w
                && *k == kind
                && e.family.as_deref() == Some(family)
                && !keys.contains(key)
            {
                keys.push(key.clone());
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(v) = self.get(kind, &key)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    fn purge(&mut self, kind: Kind, now: u64, limit: usize) -> Result<usize, StoreError> {
        let due: Vec<String> = self
            .state
            .deadlines
            .range((kind, 0, String::new())..)
            .take_while(|(k, t, _)| *k == kind && *t <= now)
            .take(limit)
            .map(|(_, _, key)| key.clone())
            .collect();
        let n = due.len();
        for key in due {
            self.writes.push((kind, key, Write::Delete));
        }
        Ok(n)
    }

    fn count(&mut self) -> Result<usize, StoreError> {
        Ok(self.state.len())
    }
}

impl Store for MemoryStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        // A panic while holding the lock cannot leave half a transaction behind (writes are
        // buffered), so a poisoned mutex is safe to keep using.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = MemoryTx::new(&mut guard);
        if !f(&mut tx) {
            return Ok(());
        }
        let writes = tx.into_writes();
        let state = &mut *guard;
        for (kind, key, write) in writes {
            match write {
                Write::Put(entry) => {
                    state.insert(kind, key, entry);
                }
                Write::Delete => {
                    state.remove(kind, &key);
                }
            }
        }
        Ok(())
    }

    fn submit(self: Arc<Self>, mut job: Box<dyn Job>) {
        tokio::task::spawn_blocking(move || {
            let committed = self.transact(&mut |tx| job.run(tx));
            job.finish(committed);
        });
    }

    fn retention(&self) -> Retention {
        self.retention
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::run;

    #[test]
    fn committed_writes_are_visible_and_failed_ones_are_not() {
        let store = MemoryStore::default();
        run(&store, |r| r.revoke_family("nope", true))
            .expect("ok")
            .expect("ok");
        run(&store, |r| {
            r.first_use_of_jti("a", 0, 10).expect("ok");
        })
        .expect("ok");
        let again = run(&store, |r| r.first_use_of_jti("a", 5, 10).expect("ok")).expect("ok");
        assert!(!again);
        let later = run(&store, |r| r.first_use_of_jti("a", 11, 20).expect("ok")).expect("ok");
        assert!(later);
    }
}
