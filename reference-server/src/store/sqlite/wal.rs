//! The database's write-ahead log as a file we sync ourselves.
//!
//! The connection runs `synchronous = NORMAL`, so `COMMIT` writes its frames to the WAL without
//! waiting for the disk; [`Wal::sync`] then makes every frame written so far durable
//! (`fdatasync`). A transaction is durable once a sync that started after its `COMMIT` returned
//! has succeeded: that is exactly what `synchronous = FULL` does inside `COMMIT`, moved out of
//! the connection so that the next transaction can run while the disk works. Recovery after a
//! crash replays the WAL up to its last intact commit frame, so a later commit can never be kept
//! without the earlier ones. (Checkpoints stay synced by SQLite itself under `NORMAL`.)
//!
//! Syncs may run concurrently, each on its own handle: `fdatasync` waits for every write-back of
//! the file in progress, its own or another's, and reports a write-back error to every open file
//! description once. On one shared handle, the first of two concurrent syncs could take the
//! error and the other report success, over data that never reached the disk.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An open handle on the `-wal` file of a database in WAL mode.
#[derive(Debug)]
pub(super) struct Wal {
    path: PathBuf,
    file: File,
}

impl Wal {
    /// The WAL of the database at `db` (as SQLite names it: the path plus `-wal`), which must
    /// exist (the connection has written to it).
    pub(super) fn open(db: &Path) -> std::io::Result<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let path = PathBuf::from(name);
        let file = File::open(&path)?;
        Ok(Self { path, file })
    }

    /// Makes everything written to the WAL so far durable.
    ///
    /// SQLite never deletes the WAL while a connection has the database open, and resets it in
    /// place; the check that the name still denotes the file we hold makes sure a sync is never
    /// silently spent on a file SQLite no longer uses.
    pub(super) fn sync(&self) -> std::io::Result<()> {
        let (named, held) = (std::fs::metadata(&self.path)?, self.file.metadata()?);
        if (named.dev(), named.ino()) != (held.dev(), held.ino()) {
            return Err(std::io::Error::other(format!(
                "{} was replaced while the database was open",
                self.path.display()
            )));
        }
        self.file.sync_data()
    }
}
