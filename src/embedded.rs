//! The bundled reference server as the rest of the harness names it. With the `embedded-server`
//! feature (the default) these are the server's own types; without it they are stand-ins that
//! parse the same flags, so `tokencert` can say why an embedded run cannot happen instead of not
//! knowing the flags.

#[cfg(feature = "embedded-server")]
pub use reference_server::{Flaw, Running, ServeArgs};

#[cfg(not(feature = "embedded-server"))]
pub use absent::{Flaw, Running, ServeArgs};

/// The per-request timeout of the embedded target.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The names of the embedded server's flaws (none without it).
pub fn flaw_names() -> Vec<&'static str> {
    #[cfg(feature = "embedded-server")]
    return reference_server::Flaw::ALL
        .iter()
        .map(|f| f.name())
        .collect();
    #[cfg(not(feature = "embedded-server"))]
    return Vec::new();
}

/// Whether this build has the embedded reference server.
pub const PRESENT: bool = cfg!(feature = "embedded-server");

/// What an embedded-server request gets from a build without it.
pub const ABSENT: &str = "this tokencert was built without the embedded reference server \
     (cargo feature `embedded-server`): pass --target PROFILE.yaml to test a server you run, \
     or rebuild with default features";

#[cfg(not(feature = "embedded-server"))]
mod absent {
    use std::convert::Infallible;
    use std::str::FromStr;

    /// A `--flaw` name. Without the server no flaw exists; any name parses so the run can say so.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Flaw(String);

    impl Flaw {
        /// The name as given.
        pub fn name(&self) -> &str {
            &self.0
        }
    }

    impl FromStr for Flaw {
        type Err = Infallible;
        fn from_str(s: &str) -> Result<Self, Infallible> {
            Ok(Flaw(s.to_owned()))
        }
    }

    /// `tokencert serve`'s arguments, taken whole: this build cannot serve.
    #[derive(Debug, clap::Args)]
    pub struct ServeArgs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    }

    /// A running server: none can exist in this build.
    pub enum Running {}

    impl Running {
        /// Unreachable: there is no value to shut down.
        pub async fn shutdown(self) {
            match self {}
        }
    }
}
