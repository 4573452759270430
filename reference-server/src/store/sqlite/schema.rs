//! The file's layout, and bringing older files up to it.
//!
//! The file is the durable copy of the store's in-memory image (see [`super`]): one table of
//! records in the order they were written (`id`), and no index, since lookups never reach the
//! file. A write appends the record's new version at the end of the table and deletes its
//! previous version, which is usually recent as well (a rotated token was issued one rotation
//! ago). So a group of rotations dirties a few pages at the end of the table; the earlier layout,
//! a table keyed by `(kind, key)` with indexes on family and deadline, dirtied a random page per
//! record and per index entry, because tokens are keyed by hash. Every dirty page is written to
//! the WAL and synced before anyone is answered: replaying a rotation's writes, 16 rotations per
//! commit over 1,000 commits, the WAL grew by about 19 pages (74 KiB) a commit, against about
//! 200 pages (800 KiB) with the earlier layout.

use rusqlite::Connection;

/// Space reclaiming for a new file; to be set first (before WAL mode), and without effect on an
/// existing file, which keeps its own.
pub(super) fn new_file_settings(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
}

/// Creates what is missing and converts an older layout; returns once the file has the current
/// one.
pub(super) fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    let columns = columns(conn)?;
    if columns.is_empty() {
        return conn.execute_batch(CURRENT);
    }
    if columns.iter().any(|c| c == "id") {
        return Ok(());
    }
    // A file from before purging has no deadlines: its records keep none, and stay.
    let deadline = if columns.iter().any(|c| c == "purge_after") {
        "purge_after"
    } else {
        "NULL"
    };
    // A file keyed by (kind, key): same records, new layout, in one transaction. Its indexes go
    // with its table.
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         ALTER TABLE records RENAME TO records_by_kind_key;
         {CURRENT}
         INSERT INTO records (kind, key, family, value, purge_after)
             SELECT kind, key, family, value, {deadline} FROM records_by_kind_key;
         DROP TABLE records_by_kind_key;
         COMMIT;"
    ))
}

/// The current layout.
const CURRENT: &str = "
    CREATE TABLE records (
        id     INTEGER PRIMARY KEY,
        kind   INTEGER NOT NULL,
        key    TEXT NOT NULL,
        family TEXT,
        value  TEXT NOT NULL,
        purge_after INTEGER
    );
";

/// The columns of the records table (none: no table yet).
fn columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('records')")?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first layout, as files written before this one have it (before purging: no deadline).
    const KEYED_BY_KIND_KEY: &str = "
        CREATE TABLE records (
            kind   INTEGER NOT NULL,
            key    TEXT NOT NULL,
            family TEXT,
            value  TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID;
        CREATE INDEX records_by_family ON records (kind, family);
        INSERT INTO records VALUES (2, 'h1', 'f1', '{}'), (1, 'f1', 'f1', '{\"a\":1}');
    ";

    /// `kind, key, family, value, purge_after`.
    type Row = (i64, String, Option<String>, String, Option<i64>);

    #[test]
    fn older_files_keep_their_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("old.db")).expect("open");
        conn.execute_batch(KEYED_BY_KIND_KEY).expect("old layout");
        prepare(&conn).expect("convert");
        assert!(columns(&conn).expect("columns").contains(&"id".to_owned()));
        let rows: Vec<Row> = conn
            .prepare("SELECT kind, key, family, value, purge_after FROM records ORDER BY kind")
            .expect("prepare")
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rows,
            [
                (1, "f1".into(), Some("f1".into()), "{\"a\":1}".into(), None),
                (2, "h1".into(), Some("f1".into()), "{}".into(), None),
            ]
        );
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index'",
                [],
                |r| r.get(0),
            )
            .expect("indexes");
        assert_eq!(indexes, 0, "lookups never reach the file");
        // Converting again changes nothing.
        prepare(&conn).expect("again");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
    }
}
