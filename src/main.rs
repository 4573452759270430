//! The `tokencert` binary: a thin shell over [`tokencert::cli`].
fn main() -> std::process::ExitCode {
    tokencert::cli::main()
}
