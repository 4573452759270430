//! The `reference-server` binary: `reference-server --help`.

use clap::Parser;
use reference_server::ServeArgs;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    reference_server::serve(ServeArgs::parse()).await
}
