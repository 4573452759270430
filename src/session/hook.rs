//! Operator hooks: shell commands a bootstrap runs for the step a person would do (open the
//! authorization URL and log in, approve a device code).

use crate::http::BodyLimit;
use crate::http::limit::read_capped;
use std::process::Stdio;
use std::time::Duration;

/// How long a hook may run.
const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

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
        return Err(format!(
            "hook `{cmd}` exited with {status}: {}",
            String::from_utf8_lossy(&err).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
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

    #[tokio::test]
    async fn endless_hook_output_is_cut_at_the_limit() {
        let limit = BodyLimit::new(64 << 10).unwrap();
        for (cmd, stream) in [("yes", "stdout"), ("yes >&2", "stderr")] {
            let err = run_hook(cmd, &[], limit).await.unwrap_err();
            assert_eq!(err, format!("hook `{cmd}` {stream} exceeded 64 KiB"));
        }
    }
}
