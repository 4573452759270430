//! The catalogue shipped with tokencert, embedded at build time (`build.rs` walks `specs/`), so
//! `tokencert run --target x.yaml` works from any directory and a binary always runs the scenarios
//! it was built with. Diagnostics name a built-in file as `specs/<area>/<name>.yaml`, the path it
//! has in the source tree.

use std::collections::BTreeMap;
use std::path::Path;

mod table {
    include!(concat!(env!("OUT_DIR"), "/builtin_specs.rs"));
}

/// The directory built-in files are shown under (and ids are derived below).
pub const ROOT: &str = "specs";

/// Every built-in file: (path below `specs/` with `/` separators, text), in load order.
pub fn files() -> &'static [(&'static str, &'static str)] {
    table::FILES
}

/// Whether the `*.yaml` files under `dir` differ from the built-in ones (a file added, removed or
/// changed): `tokencert` says so when it runs the built-in catalogue next to a `specs/` directory
/// that is not what it was built with.
pub fn differs_from(dir: &Path) -> bool {
    let (found, _) = super::load::collect_files(&[dir.to_path_buf()]);
    let on_disk: BTreeMap<String, String> = found
        .into_iter()
        .filter_map(|(path, root)| {
            let rel = path.strip_prefix(&root).ok()?;
            let parts: Option<Vec<&str>> =
                rel.components().map(|c| c.as_os_str().to_str()).collect();
            Some((parts?.join("/"), std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    on_disk.len() != files().len()
        || files()
            .iter()
            .any(|(rel, text)| on_disk.get(*rel).is_none_or(|t| t != text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_source_trees_catalogue() {
        let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join(ROOT);
        assert!(files().len() > 150, "{} files", files().len());
        assert!(files().iter().any(|(p, _)| *p == "requirements.yaml"));
        assert!(files().iter().any(|(p, _)| p.starts_with("fixtures/")));
        // Built from this tree: the same files with the same text.
        assert!(!differs_from(&specs));
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(differs_from(empty.path()));
    }
}
