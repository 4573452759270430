//! Where a profile's `{ env: NAME }` secrets come from.

/// Resolves `{ env: NAME }` and `{ file: PATH }` secrets.
pub trait Env {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;

    /// Whether values are stand-ins (`validate`): a value that must parse, such as a
    /// `base_url` from the environment, is not checked.
    fn is_placeholder(&self) -> bool {
        false
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// An environment where every variable is set to a placeholder: for `validate`, which checks a
/// profile's shape without needing its secrets.
pub struct PlaceholderEnv;

impl Env for PlaceholderEnv {
    fn var(&self, name: &str) -> Option<String> {
        Some(format!("placeholder-for-{name}"))
    }

    fn is_placeholder(&self) -> bool {
        true
    }
}
