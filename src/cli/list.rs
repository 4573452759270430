//! `tokencert list`: scenarios with their requirements and gates, or the capability names.

use super::{EXIT_OK, PathArgs, load_specs};

#[derive(Debug, clap::Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    paths: PathArgs,
    /// List the capability names scenarios can gate on instead.
    #[arg(long)]
    capabilities: bool,
}

pub(super) fn list(a: &ListArgs) -> u8 {
    if a.capabilities {
        for (name, what) in crate::capability::CAPABILITIES {
            println!("{name:<42} {what}");
        }
        for (role, what) in crate::capability::CLIENT_ROLES {
            println!("{:<42} the target defines {what}", format!("client.{role}"));
        }
        return EXIT_OK;
    }
    let cat = match load_specs(&a.paths.source()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for s in &cat.scenarios {
        let reqs: Vec<String> = s
            .requirements
            .iter()
            .map(|r| format!("{} {}", r.id, r.level))
            .collect();
        println!("{}  {}", s.id, s.title);
        println!("    requirements: {}", reqs.join(", "));
        if !s.requires.is_empty() {
            let g: Vec<&str> = s.requires.iter().map(|g| g.name.as_str()).collect();
            println!("    requires: {}", g.join(", "));
        }
        if !s.unless.is_empty() {
            let g: Vec<&str> = s.unless.iter().map(|g| g.name.as_str()).collect();
            println!("    unless: {}", g.join(", "));
        }
        for d in &s.matrix {
            let v: Vec<&str> = d.values.iter().map(|(v, _)| v.as_str()).collect();
            println!("    matrix {}: {}", d.name, v.join(", "));
        }
    }
    println!("{} scenario(s)", cat.scenarios.len());
    EXIT_OK
}
