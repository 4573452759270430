//! Requirement levels (RFC 2119 key words).

use crate::outcome::Outcome;

vocabulary! {
    /// How binding a requirement is, and so what breaking it means. Strictest first.
    pub enum Level("requirement level") {
        /// RFC 2119 §1: "MUST: This word, or the terms "REQUIRED" or "SHALL", mean that the
        /// definition is an absolute requirement of the specification." (§2: MUST NOT, SHALL
        /// NOT.) Breaking it is a Fail.
        Must = "MUST",
        /// RFC 2119 §3: "SHOULD: This word, or the adjective "RECOMMENDED", mean that there may
        /// exist valid reasons in particular circumstances to ignore a particular item, but the
        /// full implications must be understood and carefully weighed before choosing a
        /// different course." (§4: SHOULD NOT, NOT RECOMMENDED.) Breaking it is a Warn.
        Should = "SHOULD",
        /// RFC 2119 §5: "MAY: This word, or the adjective "OPTIONAL", mean that an item is truly
        /// optional." Not meeting it is Info.
        May = "MAY",
    }
}

impl Level {
    /// Every RFC 2119 key word that means this level; the first is the wire name.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Self::Must => &["MUST", "MUST NOT", "SHALL", "SHALL NOT", "REQUIRED"],
            Self::Should => &["SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"],
            Self::May => &["MAY", "OPTIONAL"],
        }
    }

    /// Parses any RFC 2119 key word ([`Level::keywords`]), case-insensitively, as catalogues and
    /// scenarios write them.
    pub fn parse(s: &str) -> Option<Level> {
        let upper = s.to_ascii_uppercase();
        Self::ALL
            .iter()
            .copied()
            .find(|l| l.keywords().contains(&upper.as_str()))
    }

    /// The outcome of a result whose strictest broken requirement has this level.
    pub fn outcome_when_broken(self) -> Outcome {
        match self {
            Self::Must => Outcome::Fail,
            Self::Should => Outcome::Warn,
            Self::May => Outcome::Info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_keyword_round_trips() {
        crate::vocabulary::assert_round_trips(&Level::ALL, &Level::NAMES);
        for l in &Level::ALL {
            assert_eq!(l.keywords()[0], l.as_str());
            for k in l.keywords() {
                assert_eq!(Level::parse(k), Some(*l));
                assert_eq!(Level::parse(&k.to_ascii_lowercase()), Some(*l));
            }
        }
        assert_eq!(Level::parse("MIGHT"), None);
    }

    #[test]
    fn stricter_levels_break_worse() {
        assert!(Level::Must < Level::Should && Level::Should < Level::May);
        for pair in Level::ALL.windows(2) {
            assert!(pair[0].outcome_when_broken() > pair[1].outcome_when_broken());
        }
    }
}
