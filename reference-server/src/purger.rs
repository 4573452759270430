//! The background purge: every second, the records no request can tell from missing ones any
//! more (see [`crate::store::Retention`]) are deleted, a bounded batch per transaction so no
//! request waits long behind it. Without it the store grows by every refresh, forever.

use crate::state::AppState;
use crate::store::{StoreError, run_async};
use std::sync::Arc;
use std::time::Duration;

/// How often the purge runs.
pub const PERIOD: Duration = Duration::from_secs(1);

/// Records deleted per transaction.
pub const BATCH: usize = 2_000;

/// Starts the purge on the current tokio runtime; it stops when the server state is dropped.
pub fn spawn(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else {
                return;
            };
            // A failed round is retried on the next tick; storage errors reach requests anyway.
            let _ = sweep(&state).await;
        }
    })
}

/// One round: batches until nothing more is due; returns how many records went.
pub async fn sweep(state: &AppState) -> Result<usize, StoreError> {
    let (now, wall) = (state.clock.now(), state.clock.wall());
    let mut total = 0;
    loop {
        let gone = run_async(state.store.clone(), move |r| r.purge(now, wall, BATCH)).await??;
        total += gone;
        if gone < BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;
    use crate::config::Config;
    use crate::grant::refresh_token::{Caller, RefreshInput, refresh};
    use crate::grant::{Ctx, NewGrant, issue_new};
    use crate::policy::Policy;
    use crate::store::run_async;
    use crate::token::RefreshToken;

    /// rfc9700 with 60-second access tokens and a 60-second refresh idle lifetime.
    fn short_lived(db: Option<std::path::PathBuf>) -> Arc<AppState> {
        let mut policy = Policy::preset("rfc9700").expect("preset");
        policy.lifetimes.access_token = 60;
        policy.lifetimes.refresh_idle = Some(60);
        let mut config = Config::new(policy);
        config.test_control = true;
        config.db = db;
        Arc::new(AppState::new(&config, "http://127.0.0.1:9").expect("state"))
    }

    async fn start_chain(st: &Arc<AppState>) -> RefreshToken {
        let s = st.clone();
        run_async(st.store.clone(), move |r| {
            let client = s.clients.get("confidential-basic").expect("client");
            let ctx = Ctx {
                state: &s,
                now: s.clock.now(),
            };
            let grant = NewGrant {
                client: &client,
                subject: Some("alice".into()),
                scope: vec!["api:read".into()],
                grant: GrantType::Password,
                auth_time: None,
                nonce: None,
                dpop_jkt: None,
                requested_scope: None,
                with_refresh: true,
            };
            issue_new(r, &ctx, grant).expect("issue").0.refresh_token
        })
        .await
        .expect("tx")
        .expect("rt")
    }

    async fn refresh_once(st: Arc<AppState>, token: RefreshToken) -> RefreshToken {
        let s = st.clone();
        run_async(st.store.clone(), move |r| {
            let client = s.clients.get("confidential-basic").expect("client");
            let input = RefreshInput {
                token,
                scope: None,
                caller: Caller::Authenticated(client),
                dpop_jkt: None,
            };
            let ctx = Ctx {
                state: &s,
                now: s.clock.now(),
            };
            refresh(r, &ctx, &input).expect("refresh").refresh_token
        })
        .await
        .expect("tx")
        .expect("rt")
    }

    async fn count(st: &Arc<AppState>) -> usize {
        run_async(st.store.clone(), |r| r.count())
            .await
            .expect("tx")
            .expect("count")
    }

    /// 4 chains refreshed concurrently, 30 rounds of `per_round` refreshes, 10 virtual seconds
    /// per round: 60 × `per_round` records written, only the last 60 seconds' worth (6-7
    /// rounds) may stay.
    async fn stays_bounded(st: Arc<AppState>, per_round: usize) {
        let mut chains = Vec::new();
        for _ in 0..4 {
            chains.push(start_chain(&st).await);
        }
        let mut peak = 0;
        for _ in 0..30 {
            for _ in 0..per_round / chains.len() {
                let tasks: Vec<_> = chains
                    .iter()
                    .map(|rt| tokio::spawn(refresh_once(st.clone(), rt.clone())))
                    .collect();
                for (slot, t) in tasks.into_iter().enumerate() {
                    chains[slot] = t.await.expect("task");
                }
            }
            st.clock.advance(10);
            sweep(&st).await.expect("sweep");
            peak = peak.max(count(&st).await);
        }
        // Per round a refresh and an access record per refresh; 7 rounds alive at most, plus
        // families.
        assert!(peak <= 7 * 2 * per_round + 8, "{peak} records stayed");
        // The chains still work: purging took only what nobody can use.
        for rt in chains {
            refresh_once(st.clone(), rt).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_stays_bounded_under_refresh_load() {
        stays_bounded(short_lived(None), 100).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_stays_bounded_under_refresh_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = short_lived(Some(dir.path().join("t.db")));
        stays_bounded(st, 40).await;
    }

    #[tokio::test]
    async fn a_flawed_server_keeps_everything() {
        let mut policy = Policy::preset("rfc9700").expect("preset");
        policy.lifetimes.access_token = 60;
        let mut config = Config::new(policy);
        config.test_control = true;
        config.flaws = vec![crate::flaw::Flaw::ExpiredTokenAccepted];
        let st = Arc::new(AppState::new(&config, "http://127.0.0.1:9").expect("state"));
        let rt = start_chain(&st).await;
        let before = count(&st).await;
        st.clock.advance(100 * 86_400);
        assert_eq!(sweep(&st).await.expect("sweep"), 0);
        assert_eq!(count(&st).await, before);
        refresh_once(st, rt).await;
    }
}
