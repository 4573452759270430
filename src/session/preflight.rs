//! Before a run: can the target be reached at all? A dead target otherwise fails every cell with
//! the same connection error (181 identical errors for one cause); one check at the start says it
//! once. Only a TCP connection to the token endpoint is opened and closed again: no request is
//! sent, so nothing on the server changes and no request count moves.

use std::net::IpAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use url::{Host, Url};

/// Connects to `url`'s host and port within `timeout`; the error says where and why not.
pub async fn reachable(url: &Url, timeout: Duration) -> Result<(), String> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{url} has no port"))?;
    let connect = async {
        match url.host() {
            Some(Host::Domain(d)) => TcpStream::connect((d, port)).await,
            Some(Host::Ipv4(ip)) => TcpStream::connect((IpAddr::V4(ip), port)).await,
            Some(Host::Ipv6(ip)) => TcpStream::connect((IpAddr::V6(ip), port)).await,
            None => Err(std::io::Error::other("the URL has no host")),
        }
    };
    let authority = format!("{}:{port}", url.host_str().unwrap_or_default());
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "the target is unreachable: cannot connect to {authority} ({url}): {e}"
        )),
        Err(_) => Err(format!(
            "the target is unreachable: no connection to {authority} ({url}) within {}",
            crate::http::limit::seconds(timeout)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_an_open_one_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("addr");
        let url = |port: u16| Url::parse(&format!("http://127.0.0.1:{port}/token")).expect("url");
        let t = Duration::from_secs(5);
        assert_eq!(reachable(&url(open.port()), t).await, Ok(()));
        drop(listener);
        let err = reachable(&url(open.port()), t)
            .await
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with(&format!(
                "the target is unreachable: cannot connect to 127.0.0.1:{}",
                open.port()
            )),
            "{err}"
        );
    }
}
