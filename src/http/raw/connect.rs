//! Opening a connection for the raw client: TCP with `TCP_NODELAY`, then TLS for `https`.

use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Anything we can speak HTTP over: a plain TCP stream or a TLS stream.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub(super) type Conn = Box<dyn Io>;

/// Connects to `url`'s host and port (TLS for `https`, accepting any certificate when
/// `insecure`).
pub(super) async fn connect(url: &url::Url, insecure: bool) -> Result<Conn, String> {
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(format!("unsupported URL scheme {other:?}")),
    };
    let port = url.port_or_known_default().ok_or("URL has no port")?;
    let host = url.host().ok_or("URL has no host")?;
    let tcp = match &host {
        url::Host::Domain(d) => TcpStream::connect((*d, port)).await,
        url::Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await,
        url::Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await,
    }
    .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    // Without this, Nagle would hold the final byte back until the primed bytes are ACKed,
    // which (with delayed ACKs) can cost tens of milliseconds and spoil the race.
    tcp.set_nodelay(true)
        .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
    if !tls {
        return Ok(Box::new(tcp));
    }
    let name = match host {
        url::Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.to_string())
            .map_err(|e| format!("invalid TLS server name {d:?}: {e}"))?,
        url::Host::Ipv4(ip) => {
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into())
        }
        url::Host::Ipv6(ip) => {
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into())
        }
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config(insecure)?);
    let stream = connector.connect(name, tcp).await.map_err(|e| {
        format!(
            "TLS handshake with {}: {e}",
            url.host_str().unwrap_or_default()
        )
    })?;
    Ok(Box::new(stream))
}

/// Client TLS configuration, built once per mode. Uses the ring provider explicitly so it does
/// not depend on a process-wide default provider being installed.
fn tls_config(insecure: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    static SECURE: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    static INSECURE: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let cell = if insecure { &INSECURE } else { &SECURE };
    cell.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let mut config = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert { provider }))
                .with_no_client_auth()
        } else {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        // We speak HTTP/1.1 only; say so, or an h2-preferring server could pick h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    })
    .clone()
}

/// Accepts any server certificate (for test deployments with self-signed certificates), but
/// still checks the handshake signatures so the session is with the holder of that key.
#[derive(Debug)]
struct AnyCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
