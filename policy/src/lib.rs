//! tokencert's data model, shared by the harness and the reference server: no HTTP, no storage.
//!
//! - [`Policy`]: every legitimate choice an authorization server may make about refresh tokens,
//!   with the shipped presets ([`preset`]);
//! - [`capability`]: the capabilities a policy implies, which scenarios gate on;
//! - the OAuth vocabulary as enums with their wire names: [`AuthMethod`], [`GrantType`],
//!   [`Level`] and [`Outcome`] (with its [`Summary`] counts).
//!
//! Each vocabulary enum has `as_str`, `FromStr`, `Display` and serde by wire name, and an `ALL`
//! table (with `NAMES` beside it) that decoders and hints read instead of repeating the names.

#[macro_use]
mod vocabulary;

pub mod auth_method;
pub mod capability;
pub mod grant_type;
pub mod level;
pub mod model;
pub mod outcome;
pub mod preset;

pub use auth_method::AuthMethod;
pub use grant_type::GrantType;
pub use level::Level;
pub use model::*;
pub use outcome::{FailOn, Outcome, RequirementOutcome, Summary, Verdict};
pub use preset::{PRESET_NAMES, all_presets, preset_claims};
pub use vocabulary::UnknownName;
