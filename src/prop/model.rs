//! The reference model: what a server following its [`Policy`] must answer, family by family.
//!
//! The model is deliberately conservative. Server time is only known to within a couple of
//! seconds (the virtual clock runs on top of real time), so every time comparison is made at
//! both ends of that interval: when they disagree the model accepts either outcome and follows
//! the one observed. When the policy leaves a choice open (revoking a token that was already
//! dead, two winners of a race inside a grace window) the family is marked unknown and no longer
//! judged, so a conformant server never yields a counterexample.

use reference_server::policy::{Policy, ReuseResponse, ScopeEscalation};

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
