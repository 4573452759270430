//! What happened to one scenario × matrix cell, and the run's counts of each.
//!
//! One table below gives the outcomes' order (least severe first), wire names, labels and
//! [`Summary`] fields; everything else derives from it.

use serde::{Deserialize, Serialize};

macro_rules! outcomes {
    ( $( $(#[$doc:meta])* $variant:ident = $field:ident / $label:literal, )+ ) => {
        vocabulary! {
            /// What happened to one scenario × matrix cell. The derived order is severity, least
            /// severe first: a requirement's roll-up keeps the greatest outcome among its results.
            pub enum Outcome("outcome") {
                $( $(#[$doc])* $variant = stringify!($field), )+
            }
        }

        impl Outcome {
            /// Upper-case label for consoles and tables.
            pub const fn label(self) -> &'static str {
                const LABELS: &[&str] = &[ $( $label, )+ ];
                LABELS[self as usize]
            }
        }

        /// Counts per outcome, one field per outcome (named by its wire name).
        #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
        pub struct Summary {
            /// All results.
            pub total: usize,
            $( $(#[$doc])* pub $field: usize, )+
        }

        impl Summary {
            /// How many results had `outcome`.
            pub fn count(&self, outcome: Outcome) -> usize {
                match outcome {
                    $( Outcome::$variant => self.$field, )+
                }
            }

            fn slot(&mut self, outcome: Outcome) -> &mut usize {
                match outcome {
                    $( Outcome::$variant => &mut self.$field, )+
                }
            }
        }
    };
}

outcomes! {
    /// Not applicable (capability missing, matrix cell undefined).
    Skip = skip / "SKIP",
    /// Every assertion held.
    Pass = pass / "PASS",
    /// A listed known deviation failed as expected.
    Xfail = xfail / "XFAIL",
    /// Only MAY-level assertions failed.
    Info = info / "INFO",
    /// A SHOULD-level assertion failed.
    Warn = warn / "WARN",
    /// A listed known deviation passed (an error: update the profile).
    Xpass = xpass / "XPASS",
    /// The run could not proceed (network, bootstrap, template).
    Error = error / "ERROR",
    /// A MUST-level assertion failed.
    Fail = fail / "FAIL",
}

impl Outcome {
    /// Severity rank, 0 for the least severe; agrees with the derived `Ord`.
    pub const fn severity(self) -> u8 {
        self as u8
    }

    /// The more severe of two outcomes.
    pub fn worst(self, other: Outcome) -> Outcome {
        self.max(other)
    }
}

impl Summary {
    /// Counts `outcomes`.
    pub fn of(outcomes: impl IntoIterator<Item = Outcome>) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            s.add(o);
        }
        s
    }

    /// Counts one more result with `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        *self.slot(outcome) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        crate::vocabulary::assert_round_trips(&Outcome::ALL, &Outcome::NAMES);
        for o in &Outcome::ALL {
            assert_eq!(o.label(), o.as_str().to_ascii_uppercase());
        }
    }

    #[test]
    fn order_agrees_with_severity() {
        for (i, a) in Outcome::ALL.iter().enumerate() {
            assert_eq!(usize::from(a.severity()), i);
            for b in &Outcome::ALL {
                assert_eq!(a.cmp(b), a.severity().cmp(&b.severity()), "{a} vs {b}");
            }
        }
        assert!(Outcome::Skip < Outcome::Pass && Outcome::Error < Outcome::Fail);
        assert_eq!(Outcome::Warn.worst(Outcome::Xfail), Outcome::Warn);
    }

    #[test]
    fn summary_counts_every_outcome_in_its_own_field() {
        let s = Summary::of(Outcome::ALL.iter().copied().chain([Outcome::Fail]));
        assert_eq!(s.total, Outcome::ALL.len() + 1);
        for o in &Outcome::ALL {
            let want = if *o == Outcome::Fail { 2 } else { 1 };
            assert_eq!(s.count(*o), want, "{o}");
        }
        let json = serde_json::to_value(&s).expect("serialize");
        for o in &Outcome::ALL {
            assert_eq!(json[o.as_str()], s.count(*o), "{o}");
        }
    }
}
