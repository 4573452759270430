//! What happened to one scenario × matrix cell, the run's counts of each, and how a requirement
//! stands once its cells are rolled up.
//!
//! One table below gives the outcomes' order (least severe first), wire names, labels, what each
//! means for CI ([`Verdict`]: exit code, JUnit element) and [`Summary`] fields; everything else
//! derives from it. A cell is always executed or skipped; "untested" is a property of a
//! requirement none of whose cells ran, so it lives in [`RequirementOutcome`], not in [`Outcome`].

use serde::{Deserialize, Serialize};

/// What an outcome means for CI: the exit code it sets and how JUnit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Nothing to report.
    Passed,
    /// Not applicable, or failing as a listed deviation: JUnit `<skipped>`.
    Skipped,
    /// Non-blocking findings (SHOULD, MAY): reported, exit 0.
    Noted,
    /// The cell could not be judged, or the profile is out of date: JUnit `<error>`, exit 3.
    Unjudged,
    /// A MUST is broken: JUnit `<failure>`, exit 4.
    Failed,
}

impl Verdict {
    /// The process exit code a run with this verdict gets (the greatest over the run wins).
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed | Verdict::Skipped | Verdict::Noted => 0,
            Verdict::Unjudged => 3,
            Verdict::Failed => 4,
        }
    }

    /// Whether reports show the cell's findings, reason and exchanges.
    pub const fn has_details(self) -> bool {
        matches!(self, Verdict::Noted | Verdict::Unjudged | Verdict::Failed)
    }
}

macro_rules! outcomes {
    ( $( $(#[$doc:meta])* $variant:ident = $field:ident / $label:literal / $verdict:ident / $meaning:literal, )+ ) => {
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

            /// What the outcome means for CI.
            pub const fn verdict(self) -> Verdict {
                const VERDICTS: &[Verdict] = &[ $( Verdict::$verdict, )+ ];
                VERDICTS[self as usize]
            }

            /// One line for legends: what the outcome says about the cell.
            pub const fn meaning(self) -> &'static str {
                const MEANINGS: &[&str] = &[ $( $meaning, )+ ];
                MEANINGS[self as usize]
            }
        }

        /// Counts per outcome, one field per outcome (named by its wire name). A field missing
        /// from a stored report (written before that outcome existed) reads as 0.
        #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
        #[serde(default)]
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
    /// Not applicable (capability missing, matrix cell undefined, a wait beyond `--max-wait`).
    Skip = skip / "SKIP" / Skipped / "not applicable to this target, or not run (the reason says why)",
    /// Every assertion held.
    Pass = pass / "PASS" / Passed / "every assertion held",
    /// A listed known deviation failed as expected.
    Xfail = xfail / "XFAIL" / Skipped / "a listed known deviation, failing as expected",
    /// Only MAY-level assertions failed.
    Info = info / "INFO" / Noted / "a MAY is not met",
    /// A SHOULD-level assertion failed.
    Warn = warn / "WARN" / Noted / "a SHOULD is broken",
    /// A listed known deviation passed (an error: update the profile).
    Xpass = xpass / "XPASS" / Unjudged / "a listed known deviation that now passes: update the profile",
    /// The target gave no complete answer within the request timeout where the cell needed
    /// one; nothing it did answer broke a requirement. Says nothing about conformance.
    Timeout = timeout / "TIMEOUT" / Unjudged / "no complete answer within --timeout: the cell could not be judged",
    /// The run could not proceed (network, bootstrap, template).
    Error = error / "ERROR" / Unjudged / "could not run (network, bootstrap, template)",
    /// A MUST-level assertion failed.
    Fail = fail / "FAIL" / Failed / "a MUST is broken",
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

impl Outcome {
    /// The verdict under a `--fail-on` threshold: a non-blocking outcome (WARN, INFO) at or above
    /// the threshold fails the run like a broken MUST; every other verdict is unchanged.
    pub fn verdict_under(self, fail_on: FailOn) -> Verdict {
        match self.verdict() {
            Verdict::Noted if self >= fail_on.threshold() => Verdict::Failed,
            v => v,
        }
    }
}

vocabulary! {
    /// The least severe finding that fails a run (`--fail-on`). By default only a broken MUST
    /// does; a pipeline that also gates on SHOULD (`warn`) or MAY (`info`) findings lowers it.
    #[derive(Default)]
    pub enum FailOn("--fail-on level") {
        /// Only a broken MUST (FAIL) fails the run.
        #[default]
        Fail = "fail",
        /// A broken SHOULD (WARN) fails it too.
        Warn = "warn",
        /// Any finding, MAY included (INFO), fails it.
        Info = "info",
    }
}

impl FailOn {
    /// The least severe cell outcome that fails the run.
    pub const fn threshold(self) -> Outcome {
        match self {
            FailOn::Fail => Outcome::Fail,
            FailOn::Warn => Outcome::Warn,
            FailOn::Info => Outcome::Info,
        }
    }

    /// Whether this is the default (only FAIL fails), which reports need not mention.
    pub fn is_default(&self) -> bool {
        *self == FailOn::Fail
    }
}

/// How a requirement stands after a run: `untested` when none of the cells that reference it was
/// executed (every one skipped, or there were none), else the worst outcome among its executed
/// cells. The field is private so that no value can claim a requirement was tested by a skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RequirementOutcome(Option<Outcome>);

impl RequirementOutcome {
    /// No executed cell (yet).
    pub const UNTESTED: RequirementOutcome = RequirementOutcome(None);
    /// Wire name and label of [`Self::UNTESTED`].
    pub const UNTESTED_NAME: &'static str = "untested";
    /// What `untested` means, for legends.
    pub const UNTESTED_MEANING: &'static str =
        "no cell of the requirement was executed (every one skipped): nothing was checked";

    /// The roll-up of `cells`: skips are ignored, the rest keep the worst.
    pub fn of(cells: impl IntoIterator<Item = Outcome>) -> RequirementOutcome {
        let mut r = RequirementOutcome::UNTESTED;
        for o in cells {
            r.add(o);
        }
        r
    }

    /// Rolls one more cell in: a skipped cell tested nothing.
    pub fn add(&mut self, cell: Outcome) {
        if cell != Outcome::Skip {
            self.0 = Some(self.0.map_or(cell, |o| o.worst(cell)));
        }
    }

    /// The worst executed outcome, or `None` when untested.
    pub const fn tested(self) -> Option<Outcome> {
        self.0
    }

    /// Whether some cell of the requirement was executed.
    pub const fn is_tested(self) -> bool {
        self.0.is_some()
    }

    /// Wire name: `untested` or the outcome's.
    pub const fn as_str(self) -> &'static str {
        match self.0 {
            Some(o) => o.as_str(),
            None => Self::UNTESTED_NAME,
        }
    }

    /// Upper-case label for consoles and tables.
    pub const fn label(self) -> &'static str {
        match self.0 {
            Some(o) => o.label(),
            None => "UNTESTED",
        }
    }

    /// One line for legends.
    pub const fn meaning(self) -> &'static str {
        match self.0 {
            Some(o) => o.meaning(),
            None => Self::UNTESTED_MEANING,
        }
    }
}

impl std::fmt::Display for RequirementOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RequirementOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RequirementOutcome {
    /// `untested`, or an outcome name. A stored `skip` (reports of schema 1 rolled skips up as
    /// outcomes) reads as untested: a skip tested nothing.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name == Self::UNTESTED_NAME {
            return Ok(RequirementOutcome::UNTESTED);
        }
        let o: Outcome = name.parse().map_err(serde::de::Error::custom)?;
        Ok(RequirementOutcome::of([o]))
    }
}

impl Summary {
    /// The process exit code: the greatest [`Verdict::exit_code`] among the outcomes counted, so
    /// a conformance failure (4) outranks a cell that could not be judged (3).
    pub fn exit_code(&self) -> u8 {
        self.exit_code_under(FailOn::default())
    }

    /// The exit code under a `--fail-on` threshold ([`Outcome::verdict_under`]).
    pub fn exit_code_under(&self, fail_on: FailOn) -> u8 {
        Outcome::ALL
            .iter()
            .filter(|o| self.count(**o) > 0)
            .map(|o| o.verdict_under(fail_on).exit_code())
            .max()
            .unwrap_or(0)
    }

    /// Cells that were executed (not skipped).
    pub fn executed(&self) -> usize {
        self.total.saturating_sub(self.skip)
    }

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
    fn verdicts_give_exit_codes() {
        assert_eq!(Summary::default().exit_code(), 0);
        let of = |os: &[Outcome]| Summary::of(os.iter().copied()).exit_code();
        assert_eq!(
            of(&[Outcome::Pass, Outcome::Warn, Outcome::Skip, Outcome::Xfail]),
            0
        );
        assert_eq!(of(&[Outcome::Pass, Outcome::Timeout]), 3);
        assert_eq!(of(&[Outcome::Xpass]), 3);
        assert_eq!(of(&[Outcome::Error, Outcome::Fail, Outcome::Timeout]), 4);
        // Severity and verdict agree: a more severe outcome never gets a milder verdict.
        for w in Outcome::ALL.windows(2) {
            assert!(
                w[0].verdict().exit_code() <= w[1].verdict().exit_code(),
                "{} vs {}",
                w[0],
                w[1]
            );
        }
        let old: Summary = serde_json::from_str(r#"{"total":1,"pass":1}"#).expect("old report");
        assert_eq!(old.timeout, 0);
    }

    #[test]
    fn fail_on_lowers_the_threshold() {
        let warn = Summary::of([Outcome::Pass, Outcome::Warn]);
        let info = Summary::of([Outcome::Info, Outcome::Xfail]);
        assert_eq!(warn.exit_code(), 0);
        assert_eq!(warn.exit_code_under(FailOn::Warn), 4);
        assert_eq!(warn.exit_code_under(FailOn::Info), 4);
        assert_eq!(info.exit_code_under(FailOn::Warn), 0);
        assert_eq!(info.exit_code_under(FailOn::Info), 4);
        // Only non-blocking verdicts move; a skip, an expected failure or an error never do.
        for fail_on in FailOn::ALL {
            for o in Outcome::ALL {
                let (plain, under) = (o.verdict(), o.verdict_under(fail_on));
                if plain != Verdict::Noted {
                    assert_eq!(plain, under, "{o} under {fail_on}");
                }
            }
        }
        assert_eq!("warn".parse::<FailOn>(), Ok(FailOn::Warn));
        assert!("should".parse::<FailOn>().is_err());
    }

    #[test]
    fn a_requirement_with_only_skipped_cells_is_untested() {
        let untested = RequirementOutcome::of([Outcome::Skip, Outcome::Skip]);
        assert_eq!(untested, RequirementOutcome::UNTESTED);
        assert!(!untested.is_tested());
        assert_eq!(
            (untested.as_str(), untested.label()),
            ("untested", "UNTESTED")
        );
        assert_eq!(RequirementOutcome::of([]), RequirementOutcome::UNTESTED);
        let tested = RequirementOutcome::of([Outcome::Skip, Outcome::Pass, Outcome::Xfail]);
        assert_eq!(tested.tested(), Some(Outcome::Xfail));
        assert_eq!(
            RequirementOutcome::of([Outcome::Fail, Outcome::Skip]).tested(),
            Some(Outcome::Fail)
        );
        // No value says a skip tested something.
        for o in Outcome::ALL {
            assert_ne!(RequirementOutcome::of([o]).tested(), Some(Outcome::Skip));
        }
        // Wire names round-trip; a schema-1 `skip` reads as untested.
        for r in [untested, tested, RequirementOutcome::of([Outcome::Pass])] {
            let json = serde_json::to_string(&r).expect("serialize");
            assert_eq!(
                serde_json::from_str::<RequirementOutcome>(&json).ok(),
                Some(r)
            );
        }
        let old: RequirementOutcome = serde_json::from_str("\"skip\"").expect("old");
        assert_eq!(old, RequirementOutcome::UNTESTED);
        assert!(serde_json::from_str::<RequirementOutcome>("\"passed\"").is_err());
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
