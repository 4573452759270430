//! What the copies of a race got, and how long they may take.
//!
//! A copy either got a response, got none before the race's deadline, or lost its connection.
//! Only the last counts as a server error: a copy with no answer in time says nothing about
//! what the server would have answered, so it is never a 5xx. Counts the scenario checks are
//! judged over every value the unanswered copies could still give (two 2xx seen and one copy
//! unanswered: 2 or 3 successes), so a finding only stands when it holds whatever they would
//! have answered; the runner then ends the cell as a Timeout, since a late answer can still
//! change what later steps see.

use crate::http::HttpResponse;
use crate::http::limit::seconds;
use std::time::Duration;

/// What one copy of a race got.
pub(crate) enum Reply {
    /// A complete response.
    Response(HttpResponse),
    /// No complete answer before the deadline.
    Unanswered,
    /// The connection failed or closed without an answer.
    Dropped,
}

impl Reply {
    /// The response, if one came.
    pub fn response(&self) -> Option<&HttpResponse> {
        match self {
            Reply::Response(r) => Some(r),
            Reply::Unanswered | Reply::Dropped => None,
        }
    }

    /// How the copy shows in a race's context: its status, or what happened instead.
    fn shown(&self) -> String {
        match self {
            Reply::Response(r) => r.status.to_string(),
            Reply::Unanswered => "no answer".into(),
            Reply::Dropped => "dropped".into(),
        }
    }
}

/// The counts a race's `expect` checks, as ranges over the unanswered copies.
pub(crate) struct Tally {
    /// 2xx responses.
    pub successes: usize,
    /// 5xx responses and dropped connections.
    pub server_errors: usize,
    /// Copies with no answer in time.
    pub unanswered: usize,
    /// Every copy's status (or `no answer`, `dropped`), in order.
    pub statuses: Vec<String>,
}

impl Tally {
    /// Counts `answers`.
    pub fn of(answers: &[Reply]) -> Tally {
        let status = |pred: &dyn Fn(u16) -> bool| {
            answers
                .iter()
                .filter_map(Reply::response)
                .filter(|r| pred(r.status))
                .count()
        };
        Tally {
            successes: status(&|s| (200..300).contains(&s)),
            server_errors: status(&|s| s >= 500)
                + answers
                    .iter()
                    .filter(|a| matches!(a, Reply::Dropped))
                    .count(),
            unanswered: answers
                .iter()
                .filter(|a| matches!(a, Reply::Unanswered))
                .count(),
            statuses: answers.iter().map(Reply::shown).collect(),
        }
    }

    /// The context shown with a race's findings.
    pub fn context(&self) -> String {
        format!("statuses: [{}]", self.statuses.join(", "))
    }

    /// Why the cell stops when copies went unanswered.
    pub fn unanswered_reason(&self, window: Duration) -> Option<String> {
        (self.unanswered > 0).then(|| {
            format!(
                "{} of {} requests got no answer within {}: the race cannot be judged whole, and \
                 a late answer could still change what later steps see",
                self.unanswered,
                self.statuses.len(),
                seconds(window)
            )
        })
    }
}

/// How long a race's answers may take once the final bytes are out: the request timeout, plus
/// the slowest answer seen so far in the cell for every other copy — a server that handles the
/// copies one after another (a slow password hash for each client authentication, say) needs
/// that long for the last — and never more than `copies` timeouts.
pub(crate) fn answer_window(timeout: Duration, copies: usize, slowest: Duration) -> Duration {
    let n = u32::try_from(copies.max(1)).unwrap_or(u32::MAX);
    (timeout + slowest.saturating_mul(n - 1)).min(timeout.saturating_mul(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16) -> Reply {
        Reply::Response(HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            duration: Duration::ZERO,
        })
    }

    #[test]
    fn unanswered_copies_are_not_server_errors() {
        let t = Tally::of(&[
            resp(200),
            resp(400),
            resp(503),
            Reply::Unanswered,
            Reply::Dropped,
        ]);
        assert_eq!((t.successes, t.server_errors, t.unanswered), (1, 2, 1));
        assert_eq!(t.context(), "statuses: [200, 400, 503, no answer, dropped]");
        let why = t
            .unanswered_reason(Duration::from_secs(10))
            .unwrap_or_default();
        assert!(
            why.starts_with("1 of 5 requests got no answer within 10 s"),
            "{why}"
        );
        assert!(
            Tally::of(&[resp(200)])
                .unanswered_reason(Duration::ZERO)
                .is_none()
        );
    }

    #[test]
    fn the_window_grows_with_the_copies_and_a_slow_server() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(answer_window(s(10), 1, s(3)), s(10));
        // 20 copies at 0.4 s each, one after another: 10 s + 19 × 0.4 s.
        assert_eq!(answer_window(s(10), 20, ms(400)), ms(17_600));
        // Never more than one timeout per copy.
        assert_eq!(answer_window(s(2), 5, s(30)), s(10));
    }
}
