//! The default store: maps behind one mutex. A transaction is the time the mutex is held, which
//! is a few map operations: short enough that serialising every request through it is cheaper
//! than anything finer-grained.

use super::{Kind, Store, StoreError, Tx};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    records: HashMap<(Kind, String), String>,
    by_family: HashMap<(Kind, String), Vec<String>>,
}

/// In-memory store; everything is lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

struct MemoryTx<'a> {
    state: &'a mut State,
    // Writes are buffered so a transaction that reports failure leaves no trace, like SQLite's.
    writes: Vec<(Kind, String, Option<String>, String)>,
}

impl Tx for MemoryTx<'_> {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        // Read-your-writes: the newest buffered write wins.
        if let Some((_, _, _, v)) = self
            .writes
            .iter()
            .rev()
            .find(|(k, key2, _, _)| *k == kind && key2 == key)
        {
            return Ok(Some(v.clone()));
        }
        Ok(self.state.records.get(&(kind, key.to_owned())).cloned())
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        family: Option<&str>,
        value: &str,
    ) -> Result<(), StoreError> {
        self.writes.push((
            kind,
            key.to_owned(),
            family.map(str::to_owned),
            value.to_owned(),
        ));
        Ok(())
    }

    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = self
            .state
            .by_family
            .get(&(kind, family.to_owned()))
            .cloned()
            .unwrap_or_default();
        for (k, key, fam, _) in &self.writes {
            if *k == kind && fam.as_deref() == Some(family) && !keys.contains(key) {
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
}

impl Store for MemoryStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        // A panic while holding the lock cannot leave half a transaction behind (writes are
        // buffered), so a poisoned mutex is safe to keep using.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = MemoryTx {
            state: &mut guard,
            writes: Vec::new(),
        };
        if !f(&mut tx) {
            return Ok(());
        }
        let writes = std::mem::take(&mut tx.writes);
        let state = &mut *guard;
        for (kind, key, family, value) in writes {
            let is_new = state.records.insert((kind, key.clone()), value).is_none();
            // Records never change family, so indexing on first insert is enough.
            if let (true, Some(fam)) = (is_new, family) {
                state.by_family.entry((kind, fam)).or_default().push(key);
            }
        }
        Ok(())
    }

    fn blocking(&self) -> bool {
        false
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
