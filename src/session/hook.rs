//! Operator hooks: shell commands a bootstrap runs for the step a person would do (open the
//! authorization URL and log in, approve a device code).

use super::Session;
use crate::http::BodyLimit;
use crate::http::limit::read_capped;
use std::process::Stdio;
use std::time::Duration;

/// How long a hook may run.
const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// The variables naming the profile's test user for a hook (absent without a test user, the
/// password without one): a hook logs in as the user the scenarios act as, with no variables
/// of its own to keep in step with the profile.
pub(super) const TEST_USER_VARS: [&str; 2] =
    ["TOKENCERT_TEST_USER", "TOKENCERT_TEST_USER_PASSWORD"];

impl Session {
    /// What every hook gets besides its own variables: the test user (the password is a
    /// registered secret, so a hook's redacted stderr never shows it).
    pub(super) fn hook_env(&self) -> Vec<(&'static str, String)> {
        let Some(user) = self.target.test_user() else {
            return Vec::new();
        };
        let [name, password] = TEST_USER_VARS;
        let mut env = vec![(name, user.username)];
        if let Some(p) = user.password {
            env.push((password, p.expose().to_owned()));
        }
        env
    }
}

/// Runs `cmd` through `sh -c` with `env` added, bounded to two minutes and to `limit` bytes on
/// each of stdout and stderr (a hook that writes more is killed); returns its trimmed stdout.
pub(super) async fn run_hook(
    cmd: &str,
    env: &[(&str, &str)],
    limit: BodyLimit,
) -> Result<String, String> {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .map_err(|e| format!("hook `{cmd}` could not start: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("hook `{cmd}` has no output pipes"));
    };
    // try_join stops at the first stream over the limit; dropping the child then kills it, so
    // a hook blocked on a full pipe cannot hold the cell until the timeout.
    let run = async {
        let (out, err) = tokio::try_join!(
            capped(stdout, cmd, "stdout", limit),
            capped(stderr, cmd, "stderr", limit)
        )?;
        let status = child
            .wait()
            .await
            .map_err(|e| format!("hook `{cmd}`: waiting for it: {e}"))?;
        Ok::<_, String>((status, out, err))
    };
    let (status, out, err) = tokio::time::timeout(HOOK_TIMEOUT, run)
        .await
        .map_err(|_| format!("hook `{cmd}` timed out after 120 s"))??;
    if !status.success() {
        // The end of stderr says why; the caller redacts it.
        return Err(format!(
            "hook `{cmd}` exited with {status}: {}",
            tail(String::from_utf8_lossy(&err).trim(), STDERR_TAIL)
        ));
    }
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// How much of a failed hook's stderr an error shows (its end).
const STDERR_TAIL: usize = 600;

/// The last `n` characters of `s` (with `…` when cut).
pub(super) fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_owned()
    } else {
        format!("…{}", s.chars().skip(count - n).collect::<String>())
    }
}

/// All of one output stream, or an error once it passes `limit`.
async fn capped<R: tokio::io::AsyncRead + Unpin>(
    io: R,
    cmd: &str,
    stream: &str,
    limit: BodyLimit,
) -> Result<Vec<u8>, String> {
    match read_capped(io, limit).await {
        Ok(Some(out)) => Ok(out),
        Ok(None) => Err(format!("hook `{cmd}` {stream} exceeded {limit}")),
        Err(e) => Err(format!("hook `{cmd}`: reading its {stream}: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    #[tokio::test]
    async fn hook_output_is_returned_trimmed() {
        let out = run_hook("echo \"  $X  \"", &[("X", "hi")], BodyLimit::DEFAULT)
            .await
            .unwrap();
        assert_eq!(out, "hi");
        let err = run_hook("echo oops >&2; exit 3", &[], BodyLimit::DEFAULT)
            .await
            .unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("oops"),
            "{err}"
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("ab", 3), "ab");
    }

    #[tokio::test]
    async fn a_failed_hook_shows_the_end_of_its_stderr() {
        let err = run_hook(
            "i=0; while [ $i -lt 200 ]; do echo noise-$i >&2; i=$((i+1)); done; echo last-words >&2; exit 1",
            &[],
            BodyLimit::DEFAULT,
        )
        .await
        .unwrap_err();
        assert!(
            err.ends_with("last-words") && !err.contains("noise-1\n"),
            "{err}"
        );
        assert!(err.chars().count() < 800, "{err}");
    }

    #[tokio::test]
    async fn endless_hook_output_is_cut_at_the_limit() {
        let limit = BodyLimit::new(64 << 10).unwrap();
        for (cmd, stream) in [("yes", "stdout"), ("yes >&2", "stderr")] {
            let err = run_hook(cmd, &[], limit).await.unwrap_err();
            assert_eq!(err, format!("hook `{cmd}` {stream} exceeded 64 KiB"));
        }
    }
}
