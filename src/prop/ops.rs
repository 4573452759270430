//! The operations a property case is made of, and the proptest strategies that generate them
//! (and a random policy, for the in-process driver).
//!
//! Operations name tokens and families abstractly (`family 1`, `the current token`, `the 2nd
//! most recent superseded token`) and are resolved modulo what exists when they run, so every
//! sub-list proptest tries while shrinking is still a meaningful case.

use proptest::prelude::*;
use std::fmt;
use tokencert_policy::{
    IntrospectionCallers, IntrospectionPolicy, Policy, ReuseResponse, RotationMode,
    ScopeEscalation, UnrotatedRefreshToken,
};

/// Which client kind starts a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The `confidential` role (another client of this kind: `confidential2`).
    Confidential,
    /// The `public` role (another client of this kind: `public2`).
    Public,
}

/// Which token of a family an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// The newest refresh token the family was issued.
    Current,
    /// The n-th most recent older refresh token (modulo how many there are; the current one
    /// when there is none).
    Older(u8),
}

/// Who presents the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The client the family was issued to.
    Owner,
    /// Another client of the same kind.
    Other,
}

/// The `scope` parameter of a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeReq {
    /// No `scope`.
    Omit,
    /// A strict subset of the grant.
    Narrower,
    /// The grant's scope plus a value never granted.
    Broader,
}

/// How far to move the clock, relative to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dur {
    /// A few seconds.
    Tick(u8),
    /// Past the grace window (grace + 5 s).
    PastGrace,
    /// Past the access token lifetime (+ 5 s).
    PastAccess,
    /// A minute short of the refresh idle timeout.
    BeforeIdle,
    /// Past the refresh idle timeout (+ 5 s).
    PastIdle,
    /// Past the absolute refresh lifetime (+ 5 s).
    PastAbsolute,
}

/// One step of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Start a new family.
    Start(Kind),
    /// Refresh.
    Refresh {
        /// Family index (modulo the families started).
        fam: u8,
        /// Which of its tokens.
        tok: Tok,
        /// Presented by.
        who: Who,
        /// With which scope.
        scope: ScopeReq,
    },
    /// Two refreshes of one token at the same instant.
    Race {
        /// Family index.
        fam: u8,
        /// Which token.
        tok: Tok,
    },
    /// Revoke a refresh token (RFC 7009), as its owner.
    RevokeRefresh {
        /// Family index.
        fam: u8,
        /// Which token.
        tok: Tok,
    },
    /// Revoke the family's newest access token.
    RevokeAccess {
        /// Family index.
        fam: u8,
    },
    /// Move the virtual clock.
    Advance(Dur),
    /// Restart the server on its durable store.
    Restart,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tok = |t: &Tok| match t {
            Tok::Current => "current RT".to_owned(),
            Tok::Older(n) => format!("older RT #{n}"),
        };
        match self {
            Op::Start(k) => write!(f, "start a family ({k:?} client)"),
            Op::Refresh {
                fam,
                tok: t,
                who,
                scope,
            } => write!(
                f,
                "refresh family {fam} with its {} as {} ({})",
                tok(t),
                match who {
                    Who::Owner => "the owner",
                    Who::Other => "another client",
                },
                match scope {
                    ScopeReq::Omit => "no scope",
                    ScopeReq::Narrower => "narrower scope",
                    ScopeReq::Broader => "broader scope",
                }
            ),
            Op::Race { fam, tok: t } => {
                write!(f, "two concurrent refreshes of family {fam}'s {}", tok(t))
            }
            Op::RevokeRefresh { fam, tok: t } => write!(f, "revoke family {fam}'s {}", tok(t)),
            Op::RevokeAccess { fam } => write!(f, "revoke family {fam}'s newest access token"),
            Op::Advance(d) => write!(f, "advance the clock: {d:?}"),
            Op::Restart => write!(f, "restart the server on its durable store"),
        }
    }
}

/// What the driver can do, which decides which operations are generated.
#[derive(Debug, Clone, Copy)]
pub struct Abilities {
    /// The target has a virtual clock.
    pub clock: bool,
    /// The target can be restarted on a durable store.
    pub restart: bool,
    /// Public clients are available.
    pub public: bool,
    /// Confidential clients are available.
    pub confidential: bool,
    /// The target has a revocation endpoint (RFC 7009 is optional: without one, no revoke
    /// operation is generated rather than every case stopping on the missing endpoint).
    pub revoke: bool,
}

fn tok() -> impl Strategy<Value = Tok> {
    prop_oneof![3 => Just(Tok::Current), 2 => (0u8..3).prop_map(Tok::Older)]
}

fn dur() -> impl Strategy<Value = Dur> {
    prop_oneof![
        3 => (1u8..4).prop_map(Dur::Tick),
        2 => Just(Dur::PastGrace),
        1 => Just(Dur::PastAccess),
        1 => Just(Dur::BeforeIdle),
        1 => Just(Dur::PastIdle),
        1 => Just(Dur::PastAbsolute),
    ]
}

fn kind(ab: Abilities) -> BoxedStrategy<Kind> {
    match (ab.confidential, ab.public) {
        (true, true) => prop_oneof![Just(Kind::Confidential), Just(Kind::Public)].boxed(),
        (false, true) => Just(Kind::Public).boxed(),
        _ => Just(Kind::Confidential).boxed(),
    }
}

/// One operation.
pub fn op(ab: Abilities) -> BoxedStrategy<Op> {
    let fam = 0u8..3;
    let refresh = (
        fam.clone(),
        tok(),
        prop_oneof![5 => Just(Who::Owner), 1 => Just(Who::Other)],
        prop_oneof![4 => Just(ScopeReq::Omit), 1 => Just(ScopeReq::Narrower), 1 => Just(ScopeReq::Broader)],
    )
        .prop_map(|(fam, tok, who, scope)| Op::Refresh {
            fam,
            tok,
            who,
            scope,
        });
    let mut choices: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (8, refresh.boxed()),
        (1, kind(ab).prop_map(Op::Start).boxed()),
        (
            1,
            (fam.clone(), tok())
                .prop_map(|(fam, tok)| Op::Race { fam, tok })
                .boxed(),
        ),
    ];
    if ab.revoke {
        choices.push((
            1,
            (fam.clone(), tok())
                .prop_map(|(fam, tok)| Op::RevokeRefresh { fam, tok })
                .boxed(),
        ));
        choices.push((1, fam.prop_map(|fam| Op::RevokeAccess { fam }).boxed()));
    }
    if ab.clock {
        choices.push((3, dur().prop_map(Op::Advance).boxed()));
    }
    if ab.restart {
        choices.push((1, Just(Op::Restart).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// A case's operations (after the implicit first family).
pub fn ops(ab: Abilities, max: usize) -> BoxedStrategy<Vec<Op>> {
    proptest::collection::vec(op(ab), 1..=max.max(1)).boxed()
}

/// Overrides of a preset, each `None` (the preset's value) or a value from the presets' space.
/// `None` is what proptest shrinks towards, so a counterexample keeps only the knobs it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyKnobs {
    /// Index into the presets tried.
    pub preset: usize,
    /// Rotation.
    pub rotation: Option<RotationMode>,
    /// Grace `(seconds, max_reuses)`.
    pub grace: Option<(u64, u32)>,
    /// Reuse response.
    pub reuse: Option<ReuseResponse>,
    /// Refresh idle timeout.
    pub idle: Option<Option<u64>>,
    /// Absolute refresh lifetime.
    pub absolute: Option<Option<u64>>,
    /// Rotation resets the absolute lifetime.
    pub resets_absolute: Option<bool>,
    /// Broader scope: reject or drop.
    pub escalation: Option<ScopeEscalation>,
    /// Narrower scope honoured.
    pub narrowing: Option<bool>,
    /// Revoking a refresh token revokes access tokens.
    pub cascade: Option<bool>,
    /// What an unrotated refresh answers in `refresh_token`.
    pub unrotated: Option<UnrotatedRefreshToken>,
    /// What introspection reports on, and to whom.
    pub introspection: Option<IntrospectionPolicy>,
}

/// The presets the random policy starts from (every shipped one whose clients the in-process
/// driver can play).
pub const POLICY_PRESETS: &[&str] = &[
    "rfc9700",
    "rfc6749",
    "rfc9700-grace",
    "oauth21",
    "fapi2",
    "wso2",
    "wso2-no-renew",
    "auth0",
    "oracle-idcs",
];

impl PolicyKnobs {
    /// The resolved policy.
    pub fn policy(&self) -> Result<Policy, String> {
        let name = POLICY_PRESETS
            .get(self.preset % POLICY_PRESETS.len())
            .copied()
            .unwrap_or("rfc9700");
        let mut p = Policy::preset(name).map_err(|e| e.to_string())?;
        if let Some(r) = self.rotation {
            p.rotation = r;
        }
        if let Some((s, m)) = self.grace {
            p.grace.seconds = s;
            p.grace.max_reuses = m;
        }
        if let Some(r) = self.reuse {
            p.reuse = r;
        }
        if let Some(i) = self.idle {
            p.lifetimes.refresh_idle = i;
        }
        if let Some(a) = self.absolute {
            p.lifetimes.refresh_absolute = a;
        }
        if let Some(r) = self.resets_absolute {
            p.lifetimes.rotation_resets_absolute = r;
        }
        if let Some(e) = self.escalation {
            p.scope.escalation = e;
        }
        if let Some(n) = self.narrowing {
            p.scope.narrowing = n;
        }
        if let Some(c) = self.cascade {
            p.revocation.refresh_revokes_access_tokens = c;
        }
        if let Some(u) = self.unrotated {
            p.unrotated_refresh_token = u;
        }
        if let Some(i) = &self.introspection {
            p.introspection = i.clone();
        }
        Ok(p)
    }
}

/// A random policy within the presets' space.
pub fn policy_knobs() -> BoxedStrategy<PolicyKnobs> {
    let rotation = prop_oneof![
        Just(RotationMode::Always),
        Just(RotationMode::Never),
        Just(RotationMode::PublicOnly)
    ];
    let grace = prop_oneof![Just((0u64, 0u32)), Just((30, 1)), Just((10, 2))];
    let reuse = prop_oneof![
        Just(ReuseResponse::RevokeFamily),
        Just(ReuseResponse::RejectOnly),
        Just(ReuseResponse::RevokeFamilyAndAccessTokens)
    ];
    let life = prop_oneof![3 => Just(None), 1 => Just(Some(3_600u64)), 1 => Just(Some(86_400))];
    let abs = prop_oneof![Just(None), Just(Some(7_200u64)), Just(Some(2_592_000))];
    let esc = prop_oneof![Just(ScopeEscalation::Reject), Just(ScopeEscalation::Drop)];
    let unrotated = prop_oneof![
        Just(UnrotatedRefreshToken::Same),
        Just(UnrotatedRefreshToken::Omitted)
    ];
    // What real servers choose: access tokens only (django-oidc-provider), only the token's own
    // client (Glewlwyd), public clients' tokens hidden.
    let seen = |access_tokens, refresh_tokens, callers, public_clients| IntrospectionPolicy {
        access_tokens,
        refresh_tokens,
        callers,
        public_clients,
    };
    let introspection = prop_oneof![
        Just(seen(true, false, IntrospectionCallers::AnyClient, true)),
        Just(seen(true, true, IntrospectionCallers::Owner, true)),
        Just(seen(true, true, IntrospectionCallers::AnyClient, false)),
    ];
    (
        0..POLICY_PRESETS.len(),
        proptest::option::weighted(0.3, rotation),
        proptest::option::weighted(0.3, grace),
        proptest::option::weighted(0.3, reuse),
        proptest::option::weighted(0.35, life),
        proptest::option::weighted(0.2, abs),
        proptest::option::weighted(0.2, any::<bool>()),
        proptest::option::weighted(0.2, esc),
        proptest::option::weighted(0.2, any::<bool>()),
        proptest::option::weighted(0.2, any::<bool>()),
        proptest::option::weighted(0.2, unrotated),
        proptest::option::weighted(0.2, introspection),
    )
        .prop_map(
            |(
                preset,
                rotation,
                grace,
                reuse,
                idle,
                absolute,
                resets,
                esc,
                narrowing,
                cascade,
                unrotated,
                introspection,
            )| {
                PolicyKnobs {
                    preset,
                    rotation,
                    grace,
                    reuse,
                    idle,
                    absolute,
                    resets_absolute: resets,
                    escalation: esc,
                    narrowing,
                    cascade,
                    unrotated,
                    introspection,
                }
            },
        )
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// The operations drawn from `ab` over many cases.
    fn drawn(ab: Abilities) -> Vec<Op> {
        let mut runner = TestRunner::deterministic();
        let s = ops(ab, 10);
        (0..300)
            .flat_map(|_| {
                s.new_tree(&mut runner)
                    .map(|t| t.current())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn revoke_ops_only_with_a_revocation_endpoint() {
        let ab = Abilities {
            clock: false,
            restart: false,
            public: true,
            confidential: true,
            revoke: false,
        };
        let revokes = |ops: &[Op]| {
            ops.iter()
                .filter(|o| matches!(o, Op::RevokeRefresh { .. } | Op::RevokeAccess { .. }))
                .count()
        };
        assert_eq!(revokes(&drawn(ab)), 0);
        assert!(revokes(&drawn(Abilities { revoke: true, ..ab })) > 0);
    }
}
