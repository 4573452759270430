//! The requirement catalogue (`specs/requirements.yaml`): the ids scenarios may reference.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use tokencert_policy::Level;

/// One catalogue entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Requirement {
    /// Stable id, e.g. `RFC6749-6.d`.
    pub id: String,
    /// The specification.
    pub spec: String,
    /// Section number(s).
    pub section: String,
    /// Normalised level.
    pub level: Level,
    /// The level as the catalogue writes it.
    #[serde(default)]
    pub level_text: String,
    /// `yes`, `partly` or `no`.
    #[serde(default)]
    pub testable: String,
    /// One-line paraphrase.
    pub text: String,
}

#[derive(Deserialize)]
struct File {
    requirements: Vec<Requirement>,
}

/// The catalogue, by id.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    by_id: BTreeMap<String, Requirement>,
}

/// The catalogue shipped with tokencert.
pub const BUILTIN: &str = include_str!("../../specs/requirements.yaml");

impl Requirements {
    /// The built-in catalogue (parsed once per process).
    pub fn builtin() -> Requirements {
        static PARSED: std::sync::LazyLock<Requirements> =
            std::sync::LazyLock::new(|| Requirements::parse(BUILTIN).unwrap_or_default());
        PARSED.clone()
    }

    /// Parses a catalogue file.
    pub fn parse(text: &str) -> Result<Requirements, String> {
        let f: File = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        Ok(Requirements {
            by_id: f
                .requirements
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
        })
    }

    /// Adds (or replaces) entries from another catalogue.
    pub fn extend(&mut self, other: Requirements) {
        self.by_id.extend(other.by_id);
    }

    /// Looks an id up.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id)
    }

    /// All ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// All entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Requirement> {
        self.by_id.values()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_every_row() {
        let r = Requirements::builtin();
        assert_eq!(r.len(), 179);
        let row = r.get("RFC9700-4.14.2.e").expect("present");
        assert_eq!(row.level, Level::Must);
        assert_eq!(r.get("RFC7009-2.1.e").map(|r| r.level), Some(Level::May));
    }
}
