//! Token storage behind one transactional seam.
//!
//! Grant logic is written once against [`Records`] and runs inside [`run`] or [`run_async`]: one
//! closure, one transaction. The in-memory store holds a mutex for the closure's duration; the
//! SQLite store runs closures one at a time on its writer thread, against its in-memory image,
//! where concurrent requests share one SQLite transaction and one sync of the disk. Either way a
//! rotation's read-check-write is atomic, so two concurrent refreshes of one token cannot both
//! win, and [`run_async`] answers only once the writes are committed (and, on SQLite, durable).
//! Closures must not block or await: they are pure bookkeeping (signing happens after the
//! transaction).
//!
//! Every record carries the time after which no request can tell it from a missing one (see
//! [`Retention`]); [`Records::purge`] deletes those, and the families nothing points to any more.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Every kind, by [`Kind::id`] (families first: [`PURGED`] is the rest).
    const ALL: [Kind; 7] = [
        Kind::Family,
        Kind::Refresh,
        Kind::Access,
        Kind::Code,
        Kind::Device,
        Kind::UserCode,
        Kind::Jti,
    ];

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

    /// The kind numbered `id`.
    pub fn from_id(id: i64) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.id() == id)
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
    /// The transaction committed but could not be made durable (syncing the disk failed): the
    /// store refuses further work until reopened.
    #[error("not durable: {0}")]
    NotDurable(String),
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
    /// Inserts or replaces; `family` indexes the record for cascades; after `purge_after` the
    /// record may be purged.
    fn put(&mut self, record: Put<'_>) -> Result<(), StoreError>;
    /// Every record of `kind` in `family`.
    fn by_family(&mut self, kind: Kind, family: &str) -> Result<Vec<String>, StoreError>;
    /// Deletes up to `limit` records of `kind` whose purge time is at or before `now`, then the
    /// families left without any refresh or access token; returns how many records went.
    fn purge(&mut self, kind: Kind, now: u64, limit: usize) -> Result<usize, StoreError>;
    /// How many records are stored.
    fn count(&mut self) -> Result<usize, StoreError>;
}

/// One record to write.
#[derive(Debug, Clone, Copy)]
pub struct Put<'a> {
    /// Key space.
    pub kind: Kind,
    /// Key.
    pub key: &'a str,
    /// The family it belongs to.
    pub family: Option<&'a str>,
    /// JSON value.
    pub value: &'a str,
    /// When it stops mattering (`None`: never).
    pub purge_after: Option<u64>,
}

/// A transaction handed to [`Store::submit`]: the work, then the outcome of its commit.
pub trait Job: Send {
    /// The work; `true` to keep its writes, `false` to roll them back.
    fn run(&mut self, tx: &mut dyn Tx) -> bool;
    /// Called once the transaction holding the work committed (`Ok`) or failed.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A transactional key-value store.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Runs `f` in one transaction on the calling thread and commits what it wrote when it
    /// returns `true`, rolls back when it returns `false` (an operation inside failed).
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError>;
    /// Runs `job` off the async runtime (must be called inside one) and finishes it after its
    /// commit.
    fn submit(self: Arc<Self>, job: Box<dyn Job>);
    /// How long records are kept.
    fn retention(&self) -> Retention;
    /// What group commit has done so far (stores that commit in groups).
    fn commit_stats(&self) -> Option<CommitStats> {
        None
    }
}

/// Counters of a store that commits in groups, for tuning and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed (each a group of jobs).
    pub commits: u64,
    /// Jobs run.
    pub jobs: u64,
    /// Disk syncs that made commits durable (each covers every commit since the previous one).
    pub syncs: u64,
    /// Time spent running jobs' statements, in nanoseconds.
    pub run_nanos: u64,
    /// Time spent in `COMMIT` (with any checkpoint it triggered), in nanoseconds.
    pub commit_nanos: u64,
    /// Time spent making commits durable, in nanoseconds.
    pub sync_nanos: u64,
    /// Time spent checkpointing (copying the log into the database), in nanoseconds.
    pub checkpoint_nanos: u64,
}

/// When a record stops mattering: past it, every request gets the same answer (and the same
/// error code) as for a record that never existed. Refresh tokens matter until their absolute
/// or idle lifetime ends, whatever their state (a revoked or superseded token past its lifetime
/// is refused as expired, before reuse detection looks at it); access tokens until they expire;
/// authorization and device codes a day past expiry (so a late poll or replay still hears
/// "expired"); seen JWT ids until the expiry recorded with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Purge at all. Off keeps everything (a flawed server keeps every record, so that each
    /// flaw stays observable however long ago the record died).
    pub purge: bool,
    /// The policy's refresh-token idle lifetime.
    pub refresh_idle: Option<u64>,
}

/// How long an expired code is kept, so that late requests still hear "expired".
pub const CODE_GRACE_SECS: u64 = 86_400;

impl Retention {
    /// Keep everything.
    pub fn keep_all() -> Self {
        Self::default()
    }

    fn at(&self, t: Option<u64>) -> Option<u64> {
        t.filter(|_| self.purge)
    }

    /// A refresh token: the earlier of its absolute and idle deadlines.
    pub fn refresh(&self, r: &RefreshRecord) -> Option<u64> {
        let idle = self.refresh_idle.map(|i| r.last_used_at.saturating_add(i));
        let deadline = match (r.absolute_expires_at, idle) {
            (Some(a), Some(i)) => Some(a.min(i)),
            (a, i) => a.or(i),
        };
        self.at(deadline)
    }
}

/// Typed access to the records inside a transaction. The first storage error is remembered so
/// the whole transaction can be rolled back even if the caller converted it into an OAuth error.
pub struct Records<'a> {
    tx: &'a mut dyn Tx,
    retention: Retention,
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
        purge_after: Option<u64>,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(StoreError::from);
        let text = self.note(text)?;
        let r = self.tx.put(Put {
            kind,
            key,
            family,
            value: &text,
            purge_after,
        });
        self.note(r)
    }

    /// Deletes up to `limit` records no request can still tell from missing ones (`now` in
    /// server time, `wall` for seen JWT ids), and the families they leave empty.
    pub fn purge(&mut self, now: u64, wall: u64, limit: usize) -> Result<usize, StoreError> {
        let mut gone = 0;
        for &kind in PURGED {
            let t = if kind == Kind::Jti { wall } else { now };
            let r = self.tx.purge(kind, t, limit - gone);
            gone += self.note(r)?;
            if gone >= limit {
                break;
            }
        }
        Ok(gone)
    }

    /// How many records are stored.
    pub fn count(&mut self) -> Result<usize, StoreError> {
        let r = self.tx.count();
        self.note(r)
    }

    /// A family.
    pub fn family(&mut self, id: &str) -> Result<Option<Family>, StoreError> {
        self.get_json(Kind::Family, id)
    }

    /// Saves a family.
    pub fn put_family(&mut self, f: &Family) -> Result<(), StoreError> {
        self.put_json(Kind::Family, &f.id, Some(&f.id), f, None)
    }

    /// A refresh token by hash.
    pub fn refresh(&mut self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        self.get_json(Kind::Refresh, hash)
    }

    /// Saves a refresh token.
    pub fn put_refresh(&mut self, r: &RefreshRecord) -> Result<(), StoreError> {
        let purge_after = self.retention.refresh(r);
        self.put_json(Kind::Refresh, &r.hash, Some(&r.family), r, purge_after)
    }

    /// An access token by hash.
    pub fn access(&mut self, hash: &str) -> Result<Option<AccessRecord>, StoreError> {
        self.get_json(Kind::Access, hash)
    }

    /// Saves an access token.
    pub fn put_access(&mut self, a: &AccessRecord) -> Result<(), StoreError> {
        let purge_after = self.retention.at(Some(a.expires_at));
        self.put_json(Kind::Access, &a.hash, a.family.as_deref(), a, purge_after)
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
        let purge_after = self
            .retention
            .at(Some(c.expires_at.saturating_add(CODE_GRACE_SECS)));
        self.put_json(Kind::Code, &c.hash, None, c, purge_after)
    }

    /// A device authorization by device-code hash.
    pub fn device(&mut self, hash: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.get_json(Kind::Device, hash)
    }

    /// Saves a device authorization and its user-code index.
    pub fn put_device(&mut self, d: &DeviceRecord) -> Result<(), StoreError> {
        let purge_after = self
            .retention
            .at(Some(d.expires_at.saturating_add(CODE_GRACE_SECS)));
        self.put_json(Kind::UserCode, &d.user_code, None, &d.hash, purge_after)?;
        self.put_json(Kind::Device, &d.hash, None, d, purge_after)
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
        // Past `expires_at` the entry reads as unseen anyway, so it goes whatever the retention.
        self.put_json(Kind::Jti, key, None, &expires_at, Some(expires_at))?;
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

/// The kinds [`Records::purge`] looks at (families go with their last token).
const PURGED: &[Kind] = Kind::ALL.split_at(1).1;

/// Runs `f` in one transaction on the calling thread.
pub fn run<R>(store: &dyn Store, f: impl FnOnce(&mut Records<'_>) -> R) -> Result<R, StoreError> {
    let retention = store.retention();
    let mut f = Some(f);
    let mut out = None;
    let mut failure = None;
    store.transact(&mut |tx: &mut dyn Tx| {
        let Some(f) = f.take() else { return false };
        let mut records = Records {
            tx,
            retention,
            failed: None,
        };
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

/// Runs `f` in one transaction off the async runtime (tokio's blocking pool, or the store's own
/// thread) and returns once it committed.
pub async fn run_async<R: Send + 'static>(
    store: Arc<dyn Store>,
    f: impl FnOnce(&mut Records<'_>) -> R + Send + 'static,
) -> Result<R, StoreError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Box::new(OneShot {
        f: Some(f),
        retention: store.retention(),
        out: None,
        reply,
    });
    store.submit(job);
    answer.await.map_err(|_| StoreError::Task)?
}

/// [`run_async`]'s job: the closure, its result, and where to send it after the commit.
struct OneShot<F, R> {
    f: Option<F>,
    retention: Retention,
    out: Option<Result<R, StoreError>>,
    reply: tokio::sync::oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Job for OneShot<F, R>
where
    F: FnOnce(&mut Records<'_>) -> R + Send,
    R: Send,
{
    fn run(&mut self, tx: &mut dyn Tx) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let mut records = Records {
            tx,
            retention: self.retention,
            failed: None,
        };
        let r = f(&mut records);
        let ok = records.failed.is_none();
        self.out = Some(match records.failed.take() {
            Some(e) => Err(StoreError::RolledBack(e)),
            None => Ok(r),
        });
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = match committed {
            Ok(()) => self.out.unwrap_or(Err(StoreError::Task)),
            Err(e) => Err(e),
        };
        // The requester may have gone (client disconnected): nothing to tell then.
        let _ = self.reply.send(result);
    }
}

/// Opens the configured store: SQLite when a path is given, memory otherwise.
pub fn open(
    db: Option<&std::path::Path>,
    retention: Retention,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match db {
        Some(path) => Arc::new(sqlite::SqliteStore::open_with(path, retention)?),
        None => Arc::new(memory::MemoryStore::new(retention)),
    })
}
