//! `tokencert serve`: the bundled reference authorization server, on its own.

use std::process::ExitCode;

/// The bundled reference server in the foreground.
#[cfg(feature = "embedded-server")]
pub(super) fn serve(rt: &tokio::runtime::Runtime, a: crate::embedded::ServeArgs) -> ExitCode {
    rt.block_on(reference_server::serve(a))
}

/// Without the embedded server there is nothing to serve.
#[cfg(not(feature = "embedded-server"))]
pub(super) fn serve(_: &tokio::runtime::Runtime, _: crate::embedded::ServeArgs) -> ExitCode {
    eprintln!("error: tokencert serve: {}", crate::embedded::ABSENT);
    ExitCode::from(super::EXIT_USAGE)
}
