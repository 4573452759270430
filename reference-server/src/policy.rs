//! The refresh-token policy and its presets, shared with the harness (`tokencert_policy`).

pub use tokencert_policy::model::*;
pub use tokencert_policy::{PRESET_NAMES, all_presets};
