//! The YAML files below a directory, in the one order the loader reads them. `build.rs` includes
//! this file too (by `#[path]`), so the built-in catalogue and `--specs DIR` agree on the order:
//! it must use nothing but `std`.

use std::path::{Path, PathBuf};

/// Every `*.yaml` / `*.yml` file below `dir`, sorted by path (unreadable directories are skipped).
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}
