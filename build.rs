//! Embeds the scenario catalogue (`specs/**/*.yaml`) in the binary, so `tokencert run` works from
//! any directory: writes `$OUT_DIR/builtin_specs.rs`, a table of (path below `specs/`, text) with
//! one `include_str!` per file, in the order the loader walks a directory (sorted by path
//! components). `include_str!` makes rustc rebuild when a file changes; the directory's
//! `rerun-if-changed` makes cargo rerun this script when a file is added or removed.

use std::fmt::Write as _;
#[path = "src/scenario/walk.rs"]
mod walk;

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=specs");
    let root = Path::new("specs");
    let files = walk::yaml_files(root);
    let mut out = String::from(
        "/// Every `*.yaml` / `*.yml` file under `specs/`: (path below `specs/` with `/`, text).\n\
         pub static FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let Ok(rel) = f.strip_prefix(root) else {
            continue;
        };
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        let Some(parts) = parts else {
            println!("cargo::warning=specs: skipping {} (not UTF-8)", f.display());
            continue;
        };
        let rel = parts.join("/");
        let _ = writeln!(
            out,
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),",
            format!("/specs/{rel}")
        );
    }
    out.push_str("];\n");
    let Some(dir) = std::env::var_os("OUT_DIR") else {
        panic!("OUT_DIR is not set: build.rs runs under cargo");
    };
    let dest = PathBuf::from(dir).join("builtin_specs.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
