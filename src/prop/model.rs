//! The reference model: what a server following its [`Policy`] must answer, family by family.
//!
//! The model is deliberately conservative. Server time is only known to within a couple of
//! seconds (the virtual clock runs on top of real time), so every time comparison is made at
//! both ends of that interval: when they disagree the model accepts either outcome and follows
//! the one observed. When the policy leaves a choice open (revoking a token that was already
//! dead, two winners of a race inside a grace window) the family is marked unknown and no longer
//! judged, so a conformant server never yields a counterexample.

use tokencert_policy::{Policy, ReuseResponse, ScopeEscalation};

/// Seconds of uncertainty about the server's clock.
pub const TOLERANCE: u64 = 2;

/// A refresh token's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtState {
    /// The family's current token.
    Active,
    /// Rotated out at `at` in favour of token `successor` (an index in the family).
    Superseded {
        /// When.
        at: u64,
        /// By which token.
        successor: usize,
    },
    /// Revoked by the client.
    Revoked,
}

/// A refresh token the model knows.
#[derive(Debug, Clone)]
pub struct Rt {
    /// The token.
    pub value: String,
    /// Its variable name in a reproducer.
    pub var: String,
    /// State.
    pub state: RtState,
    /// Issued at.
    pub issued: u64,
    /// Last used (idle timeout base).
    pub last_used: u64,
    /// Absolute expiry.
    pub abs_exp: Option<u64>,
    /// Grace retries used.
    pub grace_uses: u32,
}

/// An access token the model knows.
#[derive(Debug, Clone)]
pub struct At {
    /// The token.
    pub value: String,
    /// Its variable name in a reproducer.
    pub var: String,
    /// Issued at.
    pub issued: u64,
    /// Revoked directly.
    pub revoked: bool,
}

/// One token family.
#[derive(Debug, Clone)]
pub struct Fam {
    /// Client role that owns it.
    pub role: String,
    /// Another client of the same kind, if the target has one.
    pub other: Option<String>,
    /// The owner is public.
    pub public: bool,
    /// The granted scope.
    pub scope: Vec<String>,
    /// Started at.
    pub created: u64,
    /// Refresh tokens in issue order.
    pub rts: Vec<Rt>,
    /// Access tokens in issue order.
    pub ats: Vec<At>,
    /// Every refresh token of the family is revoked.
    pub revoked: bool,
    /// Every access token of the family is revoked.
    pub ats_revoked: bool,
    /// The model lost track (a legitimate choice it cannot see): not judged any more.
    pub unknown: bool,
}

/// Why a refresh must be refused (or what it broke when it was not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Another client presented it.
    OtherClient,
    /// The token or its family was revoked.
    Revoked,
    /// Idle or absolute expiry.
    Expired,
    /// A superseded token outside the grace window.
    Reused,
    /// Broader scope under `escalation: reject`.
    Scope,
}

impl Why {
    /// The invariant a success would break.
    pub fn invariant(self) -> &'static str {
        match self {
            Why::OtherClient => "a refresh token works only for the client it was issued to",
            Why::Revoked => "a revoked refresh token never comes back",
            Why::Expired => "an expired refresh token (idle or absolute lifetime) never works",
            Why::Reused => {
                "a superseded refresh token never works after the grace window, nor after reuse detection"
            }
            Why::Scope => "a refresh never grants scope beyond the original grant",
        }
    }

    /// The requirement id a success breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Why::OtherClient => "RFC6749-6.d",
            Why::Revoked | Why::Expired => "RFC6749-5.2.e",
            Why::Reused => "RFC9700-4.14.2.d",
            Why::Scope => "RFC6749-6.b",
        }
    }
}

/// The model's verdict on a refresh at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eval {
    /// Must succeed.
    Accept {
        /// As a grace retry.
        grace: bool,
    },
    /// Must fail.
    Reject {
        /// Why.
        why: Why,
        /// Reuse detection revokes the family (`Some(true)`: its access tokens too).
        revoke: Option<bool>,
    },
}

impl Eval {
    /// Accept?
    pub fn accepts(&self) -> bool {
        matches!(self, Eval::Accept { .. })
    }
}

/// The whole model.
#[derive(Debug, Clone)]
pub struct Model {
    /// The policy judged by.
    pub policy: Policy,
    /// Families, in start order.
    pub fams: Vec<Fam>,
}

impl Model {
    /// An empty model.
    pub fn new(policy: Policy) -> Self {
        Model {
            policy,
            fams: Vec::new(),
        }
    }

    /// Records a new family.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        role: &str,
        other: Option<String>,
        public: bool,
        scope: Vec<String>,
        now: u64,
        rt: String,
        at: String,
    ) -> usize {
        let n = self.fams.len();
        let abs = self.policy.lifetimes.refresh_absolute.map(|a| now + a);
        self.fams.push(Fam {
            role: role.to_owned(),
            other,
            public,
            scope,
            created: now,
            rts: vec![Rt {
                value: rt,
                var: format!("rt{n}_0"),
                state: RtState::Active,
                issued: now,
                last_used: now,
                abs_exp: abs,
                grace_uses: 0,
            }],
            ats: vec![At {
                value: at,
                var: format!("at{n}_0"),
                issued: now,
                revoked: false,
            }],
            revoked: false,
            ats_revoked: false,
            unknown: false,
        });
        n
    }

    fn expired(&self, rt: &Rt, t: u64) -> bool {
        rt.abs_exp.is_some_and(|e| t >= e)
            || self
                .policy
                .lifetimes
                .refresh_idle
                .is_some_and(|i| t >= rt.last_used + i)
    }

    fn in_grace(&self, f: &Fam, rt: &Rt, t: u64) -> bool {
        let g = &self.policy.grace;
        match rt.state {
            RtState::Superseded { at, successor } => {
                g.seconds > 0
                    && t < at + g.seconds
                    && rt.grace_uses < g.max_reuses
                    && f.rts
                        .get(successor)
                        .is_some_and(|s| s.state == RtState::Active)
            }
            _ => false,
        }
    }

    /// Whether refresh token `i` of family `f` would be accepted (by its owner) at `t`.
    pub fn rt_live_at(&self, f: usize, i: usize, t: u64) -> bool {
        let fam = &self.fams[f];
        let rt = &fam.rts[i];
        if fam.revoked || rt.state == RtState::Revoked || self.expired(rt, t) {
            return false;
        }
        match rt.state {
            RtState::Active => true,
            RtState::Superseded { .. } => self.in_grace(fam, rt, t),
            RtState::Revoked => false,
        }
    }

    /// `Some(live)` when definite at `now ± TOLERANCE`, `None` when the clock decides.
    pub fn rt_live(&self, f: usize, i: usize, now: u64) -> Option<bool> {
        let lo = self.rt_live_at(f, i, now.saturating_sub(TOLERANCE));
        let hi = self.rt_live_at(f, i, now + TOLERANCE);
        (lo == hi).then_some(lo)
    }

    /// Whether access token `j` of family `f` is live, when definite.
    pub fn at_live(&self, f: usize, j: usize, now: u64) -> Option<bool> {
        let fam = &self.fams[f];
        let at = &fam.ats[j];
        if at.revoked || fam.ats_revoked {
            return Some(false);
        }
        let exp = at.issued + self.policy.lifetimes.access_token;
        let lo = now.saturating_sub(TOLERANCE) < exp;
        let hi = now + TOLERANCE < exp;
        (lo == hi).then_some(lo)
    }

    /// The refresh verdict at one instant.
    pub fn eval_refresh(&self, f: usize, i: usize, other: bool, broader: bool, t: u64) -> Eval {
        let fam = &self.fams[f];
        let rt = &fam.rts[i];
        if other {
            return Eval::Reject {
                why: Why::OtherClient,
                revoke: None,
            };
        }
        if fam.revoked || rt.state == RtState::Revoked {
            return Eval::Reject {
                why: Why::Revoked,
                revoke: None,
            };
        }
        if self.expired(rt, t) {
            return Eval::Reject {
                why: Why::Expired,
                revoke: None,
            };
        }
        let mut grace = false;
        if let RtState::Superseded { .. } = rt.state {
            if self.in_grace(fam, rt, t) {
                grace = true;
            } else {
                let revoke = match self.policy.reuse {
                    ReuseResponse::RejectOnly => None,
                    ReuseResponse::RevokeFamily => Some(false),
                    ReuseResponse::RevokeFamilyAndAccessTokens => Some(true),
                };
                return Eval::Reject {
                    why: Why::Reused,
                    revoke,
                };
            }
        }
        if broader && self.policy.scope.escalation == ScopeEscalation::Reject {
            return Eval::Reject {
                why: Why::Scope,
                revoke: None,
            };
        }
        Eval::Accept { grace }
    }

    /// The verdicts at both ends of the clock's uncertainty.
    pub fn predict_refresh(
        &self,
        f: usize,
        i: usize,
        other: bool,
        broader: bool,
        now: u64,
    ) -> (Eval, Eval) {
        (
            self.eval_refresh(f, i, other, broader, now.saturating_sub(TOLERANCE)),
            self.eval_refresh(f, i, other, broader, now + TOLERANCE),
        )
    }

    /// Applies a refusal.
    pub fn apply_reject(&mut self, f: usize, e: &Eval) {
        if let Eval::Reject {
            revoke: Some(access),
            ..
        } = e
        {
            let fam = &mut self.fams[f];
            fam.revoked = true;
            fam.ats_revoked |= *access;
        }
    }

    /// Applies a successful revocation (200) of refresh token `i` of family `f`, which was
    /// `live` just before (as [`Model::rt_live`] said). Returns whether the grant is now
    /// definitely revoked.
    ///
    /// Revoking a live refresh token revokes the grant: every refresh token of the family, and
    /// its access tokens when the policy cascades (RFC 7009 §2.1: the server "SHOULD also
    /// invalidate all access tokens based on the same authorization grant", so without the
    /// cascade either answer is legitimate and the family is no longer judged). Revoking a token
    /// that may already be dead leaves the server free to do nothing more: unknown too.
    pub fn apply_revoke_refresh(&mut self, f: usize, i: usize, live: Option<bool>) -> bool {
        let cascade = self.policy.revocation.refresh_revokes_access_tokens;
        let fam = &mut self.fams[f];
        fam.rts[i].state = RtState::Revoked;
        if live != Some(true) {
            fam.unknown = true;
            return false;
        }
        fam.revoked = true;
        if cascade {
            fam.ats_revoked = true;
        } else {
            fam.unknown = true;
        }
        true
    }

    /// Applies a successful revocation (200) of family `f`'s newest access token. When the
    /// policy says revoking an access token also revokes its refresh token, what else goes with
    /// it is the server's choice (RFC 7009 §2.1 "MAY"): the family is no longer judged.
    pub fn apply_revoke_access(&mut self, f: usize) {
        let also_refresh = self.policy.revocation.access_revokes_refresh_token;
        let fam = &mut self.fams[f];
        if let Some(a) = fam.ats.last_mut() {
            a.revoked = true;
        }
        if also_refresh {
            fam.unknown = true;
        }
    }

    /// Whether a refresh by family `f`'s owner rotates.
    pub fn rotates(&self, f: usize) -> bool {
        self.policy.rotates_for(self.fams[f].public)
    }

    /// Applies a success: the new refresh token (when rotating) and access token.
    pub fn apply_accept(
        &mut self,
        f: usize,
        i: usize,
        grace: bool,
        now: u64,
        new_rt: Option<String>,
        at: String,
    ) {
        let reset = self.policy.lifetimes.rotation_resets_absolute;
        let abs_life = self.policy.lifetimes.refresh_absolute;
        let revoke_prev_at = self.policy.previous_access_token_revoked_on_refresh;
        let fam = &mut self.fams[f];
        let fam_no = f;
        match new_rt {
            Some(value) => {
                let n = fam.rts.len();
                let abs = if reset {
                    abs_life.map(|a| now + a)
                } else {
                    fam.rts[i].abs_exp
                };
                fam.rts.push(Rt {
                    value,
                    var: format!("rt{fam_no}_{n}"),
                    state: RtState::Active,
                    issued: now,
                    last_used: now,
                    abs_exp: abs,
                    grace_uses: 0,
                });
                match fam.rts[i].state {
                    RtState::Superseded { at, successor } if grace => {
                        if fam.rts[successor].state == RtState::Active {
                            fam.rts[successor].state = RtState::Superseded {
                                at: now,
                                successor: n,
                            };
                        }
                        fam.rts[i].state = RtState::Superseded { at, successor: n };
                        fam.rts[i].grace_uses += 1;
                    }
                    _ => {
                        // Any other token still active (there should be none) is superseded too.
                        for (k, r) in fam.rts.iter_mut().enumerate() {
                            if k != n && r.state == RtState::Active {
                                r.state = RtState::Superseded {
                                    at: now,
                                    successor: n,
                                };
                            }
                        }
                    }
                }
            }
            None => fam.rts[i].last_used = now,
        }
        if revoke_prev_at && let Some(last) = fam.ats.last_mut() {
            last.revoked = true;
        }
        let m = fam.ats.len();
        fam.ats.push(At {
            value: at,
            var: format!("at{fam_no}_{m}"),
            issued: now,
            revoked: false,
        });
    }

    /// Index of a refresh token in family `f` selected by `older`: `None` is the newest,
    /// `Some(n)` the n-th most recent older one (modulo; the newest when there is none).
    pub fn select(&self, f: usize, older: Option<u8>) -> usize {
        let len = self.fams[f].rts.len();
        match older {
            None => len - 1,
            Some(_) if len < 2 => len - 1,
            Some(n) => {
                let k = usize::from(n) % (len - 1);
                len - 2 - k
            }
        }
    }
}

/// The model's predictions pinned against the RFC rules themselves, not against the reference
/// server: if the model and the server shared a misreading, the property suite could not see it.
/// Each case is a policy, a script of refreshes (at given seconds, by the owner or another
/// client, asking for broader scope or not) and the verdict each must get; accepted refreshes are
/// applied as a conformant server would answer them.
#[cfg(test)]
mod tests {
    use super::*;
    use tokencert_policy::RotationMode;

    const SCOPE: &[&str] = &["openid", "api:read"];

    /// `base` with the settings a case depends on written out, so preset edits cannot move it.
    fn policy(tweak: impl FnOnce(&mut Policy)) -> Policy {
        let mut p = Policy::preset("base").expect("base preset");
        p.rotation = RotationMode::Always;
        p.grace.seconds = 0;
        p.grace.max_reuses = 0;
        p.reuse = ReuseResponse::RevokeFamily;
        p.lifetimes.access_token = 600;
        p.lifetimes.refresh_idle = None;
        p.lifetimes.refresh_absolute = None;
        p.lifetimes.rotation_resets_absolute = false;
        p.scope.escalation = ScopeEscalation::Reject;
        p.scope.narrowing = true;
        p.revocation.refresh_revokes_access_tokens = true;
        p.revocation.access_revokes_refresh_token = false;
        p.previous_access_token_revoked_on_refresh = false;
        tweak(&mut p);
        p
    }

    /// A model with one family of a confidential (or public) client started at t = 0.
    fn model(p: Policy, public: bool) -> Model {
        let mut m = Model::new(p);
        let scope = SCOPE.iter().map(|s| (*s).to_owned()).collect();
        m.start(
            "owner",
            Some("other".into()),
            public,
            scope,
            0,
            "rt-0".into(),
            "at-0".into(),
        );
        m
    }

    /// Which refresh token a step presents.
    #[derive(Clone, Copy, Debug)]
    enum Tok {
        /// The family's newest.
        Newest,
        /// The n-th issued (0 = the first).
        Nth(usize),
    }

    /// One refresh: when, which token, by whom, asking for what, and the verdict it must get.
    #[derive(Clone, Copy, Debug)]
    struct Refresh {
        at: u64,
        tok: Tok,
        other_client: bool,
        broader: bool,
        want: Want,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Want {
        Ok,
        Grace,
        No(Why),
        /// Refused as a replay, revoking the family (`true`: its access tokens too).
        Revokes(bool),
    }

    fn r(at: u64, tok: Tok, want: Want) -> Refresh {
        Refresh {
            at,
            tok,
            other_client: false,
            broader: false,
            want,
        }
    }

    fn want_of(e: &Eval) -> Want {
        match e {
            Eval::Accept { grace: false } => Want::Ok,
            Eval::Accept { grace: true } => Want::Grace,
            Eval::Reject {
                why: Why::Reused,
                revoke: Some(access),
            } => Want::Revokes(*access),
            Eval::Reject { why, revoke: None } => Want::No(*why),
            Eval::Reject { why, revoke } => panic!("{why:?} with revoke {revoke:?}"),
        }
    }

    /// Plays `script` on `m`, applying every verdict, and returns each step's verdict.
    fn play(m: &mut Model, script: &[Refresh]) -> Vec<Want> {
        let mut out = Vec::new();
        for (n, s) in script.iter().enumerate() {
            let i = match s.tok {
                Tok::Newest => m.fams[0].rts.len() - 1,
                Tok::Nth(k) => k,
            };
            let e = m.eval_refresh(0, i, s.other_client, s.broader, s.at);
            match &e {
                Eval::Accept { grace } => {
                    let rt = m.rotates(0).then(|| format!("rt-{}", n + 1));
                    m.apply_accept(0, i, *grace, s.at, rt, format!("at-{}", n + 1));
                }
                Eval::Reject { .. } => m.apply_reject(0, &e),
            }
            out.push(want_of(&e));
        }
        out
    }

    struct Case {
        /// The rule, as the RFC (or the policy knob) states it.
        rule: &'static str,
        policy: Policy,
        public: bool,
        script: Vec<Refresh>,
    }

    fn check(cases: Vec<Case>) {
        let mut failures = Vec::new();
        for c in cases {
            let mut m = model(c.policy, c.public);
            let got = play(&mut m, &c.script);
            let want: Vec<Want> = c.script.iter().map(|s| s.want).collect();
            if got != want {
                failures.push(format!("{}\n  want {want:?}\n  got  {got:?}", c.rule));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    use Tok::{Newest, Nth};
    use Want::{Grace, No, Ok as Fine, Revokes};

    #[test]
    fn rotation_decides_whether_a_refresh_issues_a_new_refresh_token() {
        // RFC 6749 §6: the server MAY issue a new refresh token; RFC 9700 §4.14.2: for public
        // clients it MUST either sender-constrain refresh tokens or rotate them.
        for (mode, public, rotates) in [
            (RotationMode::Never, false, false),
            (RotationMode::Never, true, false),
            (RotationMode::Always, false, true),
            (RotationMode::Always, true, true),
            (RotationMode::PublicOnly, false, false),
            (RotationMode::PublicOnly, true, true),
        ] {
            let mut m = model(policy(|p| p.rotation = mode), public);
            assert_eq!(m.rotates(0), rotates, "{mode:?} public={public}");
            let got = play(&mut m, &[r(1, Newest, Fine), r(2, Newest, Fine)]);
            assert_eq!(got, [Fine, Fine], "{mode:?} public={public}");
            let n = if rotates { 3 } else { 1 };
            assert_eq!(m.fams[0].rts.len(), n, "{mode:?} public={public}");
            assert_eq!(
                m.fams[0].ats.len(),
                3,
                "every refresh issues an access token"
            );
            let live: Vec<bool> = (0..n).map(|i| m.rt_live_at(0, i, 3)).collect();
            let mut want = vec![false; n];
            want[n - 1] = true;
            assert_eq!(live, want, "only the newest refresh token lives: {mode:?}");
        }
    }

    #[test]
    fn superseded_tokens_and_reuse_detection() {
        check(vec![
            Case {
                rule: "RFC 6749 §6: without rotation the refresh token stays valid",
                policy: policy(|p| p.rotation = RotationMode::Never),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(2, Nth(0), Fine), r(3, Nth(0), Fine)],
            },
            Case {
                rule: "RFC 6749 §6 + RFC 9700 §4.14.2: after rotation the old token is \
                       invalidated; reuse revokes the family (revoke_family), so the active \
                       token dies too",
                policy: policy(|_| {}),
                public: true,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(2, Nth(0), Revokes(false)),
                    r(3, Nth(1), No(Why::Revoked)),
                    r(4, Nth(0), No(Why::Revoked)),
                ],
            },
            Case {
                rule: "reuse: revoke_family_and_access_tokens revokes the family's access \
                       tokens as well",
                policy: policy(|p| p.reuse = ReuseResponse::RevokeFamilyAndAccessTokens),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(2, Nth(0), Revokes(true))],
            },
            Case {
                rule: "reuse: reject_only refuses the superseded token and keeps the family",
                policy: policy(|p| p.reuse = ReuseResponse::RejectOnly),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(2, Nth(0), No(Why::Reused)),
                    r(3, Nth(1), Fine),
                    r(4, Nth(1), No(Why::Reused)),
                    r(5, Nth(2), Fine),
                ],
            },
            Case {
                rule: "rotation: public_only: a confidential client's token is never superseded",
                policy: policy(|p| p.rotation = RotationMode::PublicOnly),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(2, Nth(0), Fine)],
            },
            Case {
                rule: "every superseded token is a replay, not only the latest one",
                policy: policy(|_| {}),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(2, Nth(1), Fine),
                    r(3, Nth(0), Revokes(false)),
                ],
            },
        ]);
    }

    #[test]
    fn grace_window() {
        let grace = |seconds, max_reuses| {
            policy(move |p| {
                p.grace.seconds = seconds;
                p.grace.max_reuses = max_reuses;
            })
        };
        check(vec![
            Case {
                rule: "inside the window, the predecessor works as a retry (and rotates again)",
                policy: grace(10, 1),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(5, Nth(0), Grace), r(6, Nth(2), Fine)],
            },
            Case {
                rule: "max_reuses bounds the retries; one more is a replay",
                policy: grace(10, 1),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(2, Nth(0), Grace),
                    r(3, Nth(0), Revokes(false)),
                ],
            },
            Case {
                rule: "the window counts from the rotation and ends at `seconds`",
                policy: grace(10, 5),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(10, Nth(0), Grace),
                    r(11, Nth(0), Revokes(false)),
                ],
            },
            Case {
                rule: "a retry does not restart the window",
                policy: grace(10, 5),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(9, Nth(0), Grace),
                    r(11, Nth(0), Revokes(false)),
                ],
            },
            Case {
                rule: "once the successor has been used, the predecessor is a replay",
                policy: grace(10, 5),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    r(2, Nth(1), Fine),
                    r(3, Nth(0), Revokes(false)),
                ],
            },
            Case {
                rule: "no window (seconds 0) means an immediate replay whatever max_reuses says",
                policy: grace(0, 5),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(1, Nth(0), Revokes(false))],
            },
            Case {
                rule: "no retries (max_reuses 0) means an immediate replay whatever seconds says",
                policy: grace(10, 0),
                public: false,
                script: vec![r(1, Nth(0), Fine), r(2, Nth(0), Revokes(false))],
            },
        ]);
    }

    #[test]
    fn idle_and_absolute_lifetimes() {
        let idle = |s| policy(move |p| p.lifetimes.refresh_idle = Some(s));
        let absolute = |s, resets| {
            policy(move |p| {
                p.lifetimes.refresh_absolute = Some(s);
                p.lifetimes.rotation_resets_absolute = resets;
            })
        };
        let never = |mut p: Policy| {
            p.rotation = RotationMode::Never;
            p
        };
        check(vec![
            Case {
                rule: "idle: each use restarts the idle period (no rotation)",
                policy: never(idle(100)),
                public: false,
                script: vec![
                    r(90, Nth(0), Fine),
                    r(180, Nth(0), Fine),
                    r(280, Nth(0), No(Why::Expired)),
                ],
            },
            Case {
                rule: "idle: a rotated token starts its own idle period",
                policy: idle(100),
                public: false,
                script: vec![
                    r(99, Newest, Fine),
                    r(198, Newest, Fine),
                    r(298, Newest, No(Why::Expired)),
                ],
            },
            Case {
                rule: "idle: the period is exact at its end (expired at issue + idle)",
                policy: never(idle(100)),
                public: false,
                script: vec![r(100, Nth(0), No(Why::Expired))],
            },
            Case {
                rule: "absolute: use does not extend it (no rotation)",
                policy: never(absolute(100, false)),
                public: false,
                script: vec![
                    r(50, Nth(0), Fine),
                    r(99, Nth(0), Fine),
                    r(100, Nth(0), No(Why::Expired)),
                ],
            },
            Case {
                rule: "absolute: rotated tokens inherit the family's deadline",
                policy: absolute(100, false),
                public: false,
                script: vec![
                    r(50, Newest, Fine),
                    r(99, Newest, Fine),
                    r(100, Newest, No(Why::Expired)),
                ],
            },
            Case {
                rule: "absolute with rotation_resets_absolute: each rotation restarts it",
                policy: absolute(100, true),
                public: false,
                script: vec![
                    r(50, Newest, Fine),
                    r(140, Newest, Fine),
                    r(239, Newest, Fine),
                ],
            },
            Case {
                rule: "absolute and idle together: whichever comes first",
                policy: {
                    let mut p = never(absolute(100, false));
                    p.lifetimes.refresh_idle = Some(60);
                    p
                },
                public: false,
                script: vec![r(50, Nth(0), Fine), r(100, Nth(0), No(Why::Expired))],
            },
            Case {
                rule: "expiry outranks replay: an expired superseded token revokes nothing",
                policy: idle(100),
                public: false,
                script: vec![r(10, Nth(0), Fine), r(200, Nth(0), No(Why::Expired))],
            },
        ]);
    }

    #[test]
    fn the_clock_tolerance_leaves_the_boundary_undecided() {
        let mut m = model(policy(|p| p.lifetimes.refresh_idle = Some(100)), false);
        assert_eq!(m.rt_live(0, 0, 100 - TOLERANCE - 1), Some(true));
        assert_eq!(m.rt_live(0, 0, 100), None);
        assert_eq!(m.rt_live(0, 0, 100 + TOLERANCE), Some(false));
        let (lo, hi) = m.predict_refresh(0, 0, false, false, 100);
        assert!(lo.accepts() && !hi.accepts());
        // Access tokens: `expires_in` seconds from issue (RFC 6749 §5.1).
        assert_eq!(m.at_live(0, 0, 600 - TOLERANCE - 1), Some(true));
        assert_eq!(m.at_live(0, 0, 600), None);
        assert_eq!(m.at_live(0, 0, 600 + TOLERANCE), Some(false));
        m.fams[0].ats[0].revoked = true;
        assert_eq!(m.at_live(0, 0, 1), Some(false), "revoked beats the clock");
    }

    #[test]
    fn scope_on_refresh() {
        let broader = |at, want| Refresh {
            broader: true,
            ..r(at, Newest, want)
        };
        check(vec![
            Case {
                rule: "RFC 6749 §6: the requested scope MUST NOT include any scope not \
                       originally granted (escalation: reject → invalid_scope, nothing revoked)",
                policy: policy(|_| {}),
                public: false,
                script: vec![broader(1, No(Why::Scope)), r(2, Newest, Fine)],
            },
            Case {
                rule: "escalation: drop answers 200 without the extra scope",
                policy: policy(|p| p.scope.escalation = ScopeEscalation::Drop),
                public: false,
                script: vec![broader(1, Fine)],
            },
            Case {
                rule: "a replay is refused as a replay even when it also asks for more",
                policy: policy(|_| {}),
                public: false,
                script: vec![
                    r(1, Nth(0), Fine),
                    Refresh {
                        broader: true,
                        ..r(2, Nth(0), Revokes(false))
                    },
                ],
            },
        ]);
        // Narrowing (a subset, or omitting scope) is never a reason to refuse, whether the
        // policy honours it or not, and the grant keeps its original scope: RFC 6749 §6, an
        // omitted scope "is treated as equal to the scope originally granted", and a new
        // refresh token has the scope of the one presented.
        for narrowing in [true, false] {
            let mut m = model(policy(|p| p.scope.narrowing = narrowing), false);
            assert_eq!(
                play(&mut m, &[r(1, Newest, Fine), r(2, Newest, Fine)]),
                [Fine, Fine]
            );
            assert_eq!(m.fams[0].scope, SCOPE, "narrowing={narrowing}");
        }
    }

    #[test]
    fn cross_client() {
        let other = |at, tok, want| Refresh {
            other_client: true,
            ..r(at, tok, want)
        };
        check(vec![
            Case {
                rule: "RFC 6749 §6: the refresh token must have been issued to the \
                       authenticated client; refusing another client changes nothing",
                policy: policy(|_| {}),
                public: false,
                script: vec![other(1, Nth(0), No(Why::OtherClient)), r(2, Nth(0), Fine)],
            },
            Case {
                rule: "another client presenting a superseded token is refused as another \
                       client (its presentation proves nothing about the owner's copy)",
                policy: policy(|_| {}),
                public: true,
                script: vec![
                    r(1, Nth(0), Fine),
                    other(2, Nth(0), No(Why::OtherClient)),
                    r(3, Nth(1), Fine),
                ],
            },
            Case {
                rule: "another client is refused even inside a grace window",
                policy: policy(|p| {
                    p.grace.seconds = 10;
                    p.grace.max_reuses = 3;
                }),
                public: false,
                script: vec![r(1, Nth(0), Fine), other(2, Nth(0), No(Why::OtherClient))],
            },
        ]);
    }

    #[test]
    fn revocation_cascade() {
        // RFC 7009 §2.1: revoking a refresh token revokes the grant (every refresh token of the
        // family); the server SHOULD also invalidate the grant's access tokens.
        for (cascade, ats_dead, judged) in [(true, Some(false), true), (false, Some(true), false)] {
            let mut m = model(
                policy(|p| p.revocation.refresh_revokes_access_tokens = cascade),
                false,
            );
            play(&mut m, &[r(1, Newest, Fine), r(2, Newest, Fine)]);
            let live = m.rt_live(0, 2, 3);
            assert_eq!(live, Some(true));
            assert!(m.apply_revoke_refresh(0, 2, live), "cascade={cascade}");
            for i in 0..3 {
                assert_eq!(m.rt_live(0, i, 3), Some(false), "rt {i} cascade={cascade}");
                assert_eq!(
                    m.eval_refresh(0, i, false, false, 3),
                    Eval::Reject {
                        why: Why::Revoked,
                        revoke: None
                    }
                );
            }
            assert_eq!(m.at_live(0, 2, 3), ats_dead, "cascade={cascade}");
            assert_eq!(m.fams[0].unknown, !judged, "cascade={cascade}");
        }
        // Revoking a token that may already be dead proves nothing about the rest.
        let mut m = model(policy(|_| {}), false);
        play(&mut m, &[r(1, Newest, Fine)]);
        let live = m.rt_live(0, 0, 2);
        assert_eq!(live, Some(false), "superseded");
        assert!(!m.apply_revoke_refresh(0, 0, live));
        assert!(m.fams[0].unknown && !m.fams[0].revoked);
        // Revoking an access token kills that token; its refresh token MAY go too.
        for (also_refresh, judged) in [(false, true), (true, false)] {
            let mut m = model(
                policy(|p| p.revocation.access_revokes_refresh_token = also_refresh),
                false,
            );
            m.apply_revoke_access(0);
            assert_eq!(m.at_live(0, 0, 1), Some(false));
            assert_eq!(
                m.fams[0].unknown, !judged,
                "access_revokes_refresh={also_refresh}"
            );
        }
    }

    #[test]
    fn previous_access_token_on_refresh() {
        for revoke in [false, true] {
            let mut m = model(
                policy(|p| p.previous_access_token_revoked_on_refresh = revoke),
                false,
            );
            play(&mut m, &[r(1, Newest, Fine)]);
            assert_eq!(m.at_live(0, 0, 2), Some(!revoke), "revoke={revoke}");
            assert_eq!(m.at_live(0, 1, 2), Some(true));
        }
    }

    #[test]
    fn select_picks_newest_or_an_older_token() {
        let mut m = model(policy(|_| {}), false);
        assert_eq!((m.select(0, None), m.select(0, Some(3))), (0, 0));
        play(
            &mut m,
            &[r(1, Newest, Fine), r(2, Newest, Fine), r(3, Newest, Fine)],
        );
        let picks: Vec<usize> = [None, Some(0), Some(1), Some(2), Some(3)]
            .into_iter()
            .map(|o| m.select(0, o))
            .collect();
        assert_eq!(picks, [3, 2, 1, 0, 2]);
    }
}
