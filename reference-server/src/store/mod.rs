//! Token storage behind one transactional seam.
//!
//! Grant logic is written once against [`Records`] and runs inside [`run`]: one closure, one
//! transaction. The in-memory store holds a mutex for the closure's duration; the SQLite store
//! wraps it in `BEGIN IMMEDIATE … COMMIT`. Either way a rotation's read-check-write is atomic, so
//! two concurrent refreshes of one token cannot both win. Closures must not block or await: they
//! are pure bookkeeping.

pub mod memory;
pub mod record;
pub mod sqlite;

pub use record::{
    AccessRecord, CodeRecord, DeviceRecord, DeviceStatus, Family, RefreshRecord, RefreshState,
};

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The kinds of record, one key space each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// [`Family`] by id.
    Family,
    /// [`RefreshRecord`] by token hash.
    Refresh,
    /// [`AccessRecord`] by token hash.
    Access,
    /// [`CodeRecord`] by code hash.
    Code,
    /// [`DeviceRecord`] by device-code hash.
    Device,
    /// Device-code hash by user code.
    UserCode,
    /// Seen JWT ids (client assertions, DPoP proofs), by issuer-scoped id.
    Jti,
}

impl Kind {
    /// Stable number used as the SQLite key-space column.
    pub fn id(self) -> i64 {
        match self {
            Kind::Family => 1,
            Kind::Refresh => 2,
            Kind::Access => 3,
            Kind::Code => 4,
            Kind::Device => 5,
            Kind::UserCode => 6,
            Kind::Jti => 7,
        }
    }
}

/// A storage failure. Never shown to clients (they get an opaque `server_error`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record did not deserialize (a schema bug or a corrupted file).
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The blocking task running the transaction died.
    #[error("storage task failed")]
    Task,
    /// An operation inside a transaction failed, so the transaction was rolled back.
    #[error("transaction rolled back: {0}")]
    RolledBack(String),
}

/// Raw operations inside one transaction.
pub trait Tx {
    /// The JSON value under `(kind, key)`.
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, StoreError>;
    /// Inserts or replaces; `family` indexes the record for cascades.
    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        family: Option<&str>,
        value: &str,
    ) -> Result<(), StoreError>;
    /// Every record of `kind` in `family`.
    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError>;
}

/// A transactional key-value store.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Runs `f` in one transaction and commits what it wrote when it returns `true`, rolls back
    /// when it returns `false` (an operation inside failed).
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError>;
    /// Whether transactions block on I/O (then they run on tokio's blocking pool).
    fn blocking(&self) -> bool;
}

/// Typed access to the records inside a transaction. The first storage error is remembered so
/// the whole transaction can be rolled back even if the caller converted it into an OAuth error.
pub struct Records<'a> {
    tx: &'a mut dyn Tx,
    failed: Option<String>,
}

impl<'a> Records<'a> {
    fn note<T>(&mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r
            && self.failed.is_none()
        {
            self.failed = Some(e.to_string());
        }
        r
    }

    fn get_json<T: DeserializeOwned>(
        &mut self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let raw = self.tx.get(kind, key);
        let raw = self.note(raw)?;
        let parsed = raw.map(|s| serde_json::from_str(&s)).transpose();
        self.note(parsed.map_err(StoreError::from))
    }

    fn put_json<T: Serialize>(
        &mut self,
        kind: Kind,
        key: &str,
        family: Option<&str>,
        value: &T,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(StoreError::from);
        let text = self.note(text)?;
        let r = self.tx.put(kind, key, family, &text);
        self.note(r)
    }

    /// A family.
    pub fn family(&mut self, id: &str) -> Result<Option<Family>, StoreError> {
        self.get_json(Kind::Family, id)
    }

    /// Saves a family.
    pub fn put_family(&mut self, f: &Family) -> Result<(), StoreError> {
        self.put_json(Kind::Family, &f.id, Some(&f.id), f)
    }

    /// A refresh token by hash.
    pub fn refresh(&mut self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        self.get_json(Kind::Refresh, hash)
    }

    /// Saves a refresh token.
    pub fn put_refresh(&mut self, r: &RefreshRecord) -> Result<(), StoreError> {
        self.put_json(Kind::Refresh, &r.hash, Some(&r.family), r)
    }

    /// An access token by hash.
    pub fn access(&mut self, hash: &str) -> Result<Option<AccessRecord>, StoreError> {
        self.get_json(Kind::Access, hash)
    }

    /// Saves an access token.
    pub fn put_access(&mut self, a: &AccessRecord) -> Result<(), StoreError> {
        self.put_json(Kind::Access, &a.hash, a.family.as_deref(), a)
    }

    /// Every refresh token of a family.
    pub fn family_refresh_tokens(
        &mut self,
        family: &str,
    ) -> Result<Vec<RefreshRecord>, StoreError> {
        let raw = self.tx.by_family(Kind::Refresh, family);
        let raw = self.note(raw)?;
        let parsed: Result<Vec<RefreshRecord>, _> =
            raw.iter().map(|s| serde_json::from_str(s)).collect();
        self.note(parsed.map_err(StoreError::from))
    }

    /// An authorization code by hash.
    pub fn code(&mut self, hash: &str) -> Result<Option<CodeRecord>, StoreError> {
        self.get_json(Kind::Code, hash)
    }

    /// Saves an authorization code.
    pub fn put_code(&mut self, c: &CodeRecord) -> Result<(), StoreError> {
        self.put_json(Kind::Code, &c.hash, None, c)
    }

    /// A device authorization by device-code hash.
    pub fn device(&mut self, hash: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.get_json(Kind::Device, hash)
    }

    /// Saves a device authorization and its user-code index.
    pub fn put_device(&mut self, d: &DeviceRecord) -> Result<(), StoreError> {
        self.put_json(Kind::UserCode, &d.user_code, None, &d.hash)?;
        self.put_json(Kind::Device, &d.hash, None, d)
    }

    /// A device authorization by user code.
    pub fn device_by_user_code(&mut self, code: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let hash: Option<String> = self.get_json(Kind::UserCode, code)?;
        match hash {
            Some(h) => self.device(&h),
            None => Ok(None),
        }
    }

    /// Records a JWT id until `expires_at`; `false` when it was already seen and still live.
    pub fn first_use_of_jti(
        &mut self,
        key: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let seen: Option<u64> = self.get_json(Kind::Jti, key)?;
        if seen.is_some_and(|exp| exp > now) {
            return Ok(false);
        }
        self.put_json(Kind::Jti, key, None, &expires_at)?;
        Ok(true)
    }

    /// Marks a family dead: its refresh tokens, and with `access` its access tokens too.
    pub fn revoke_family(&mut self, family: &str, access: bool) -> Result<(), StoreError> {
        if let Some(mut f) = self.family(family)? {
            f.refresh_revoked = true;
            f.access_revoked |= access;
            self.put_family(&f)?;
        }
        Ok(())
    }
}

/// Runs `f` in one transaction on the calling thread.
pub fn run<R>(store: &dyn Store, f: impl FnOnce(&mut Records<'_>) -> R) -> Result<R, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    let mut failure = None;
    store.transact(&mut |tx: &mut dyn Tx| {
        let Some(f) = f.take() else { return false };
        let mut records = Records { tx, failed: None };
        let r = f(&mut records);
        failure = records.failed.take();
        out = Some(r);
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(StoreError::RolledBack(e));
    }
    out.ok_or(StoreError::Task)
}

/// Runs `f` in one transaction, off the async runtime when the store blocks on I/O.
pub async fn run_async<R: Send + 'static>(
    store: Arc<dyn Store>,
    f: impl FnOnce(&mut Records<'_>) -> R + Send + 'static,
) -> Result<R, StoreError> {
    if store.blocking() {
        tokio::task::spawn_blocking(move || run(&*store, f))
            .await
            .map_err(|_| StoreError::Task)?
    } else {
        run(&*store, f)
    }
}

/// Opens the configured store: SQLite when a path is given, memory otherwise.
pub fn open(db: Option<&std::path::Path>) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match db {
        Some(path) => Arc::new(sqlite::SqliteStore::open(path)?),
        None => Arc::new(memory::MemoryStore::default()),
    })
}
