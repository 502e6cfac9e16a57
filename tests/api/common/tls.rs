//! A throwaway certificate authority and a certificate for `127.0.0.1`, written as PEM files,
//! for https servers in tests (stagedoor trusts the CA through `SSL_CERT_FILE`, Node through
//! `NODE_EXTRA_CA_CERTS`; the system's store is never touched).

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

pub struct TestCa {
    /// Holds the files; deleted when dropped.
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    ca_pem: String,
}

impl TestCa {
    /// A CA and a leaf certificate valid from yesterday for a week, for `127.0.0.1`,
    /// `localhost` and the hosts Backstage's bitbucket and atlassian modules hard-code (the
    /// Node reference reaches the fakes under those names, see
    /// `tests/fixtures/node/redirect-hosts.cjs`).
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // Distinct names: OpenSSL (Node) takes a leaf named like its issuer for self-signed.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "stagedoor test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let names = [
            "127.0.0.1",
            "localhost",
            "bitbucket.org",
            "api.bitbucket.org",
            "auth.atlassian.com",
            "api.atlassian.com",
        ];
        let mut leaf = CertificateParams::new(names.map(str::to_owned).to_vec()).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        leaf.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        leaf.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(7);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &ca).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("stagedoor-test-ca-")
            .tempdir()
            .unwrap();
        let write = |name: &str, pem: String| {
            let file = dir.path().join(name);
            std::fs::write(&file, pem).unwrap();
            file
        };
        let ca_pem = ca.pem();
        Self {
            ca_file: write("ca.pem", ca_pem.clone()),
            cert_file: write("cert.pem", leaf_cert.pem() + &ca_pem),
            key_file: write("key.pem", leaf_key.serialize_pem()),
            ca_pem,
            _dir: dir,
        }
    }

    /// The tests' HTTP client, trusting this CA too.
    pub fn client(&self) -> reqwest::Client {
        let certificate = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        stagedoor::outbound::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// An https server that answers every request with an OpenID discovery document, its
/// certificate issued by a test CA and valid for `days` more days. Returns its discovery URL
/// and the CA's PEM file (for `SSL_CERT_FILE`). `host` (a name or an address) is the one the
/// certificate is for and the discovery URL names; the server listens on 127.0.0.1.
pub async fn tls_idp(days: i64, dir: &std::path::Path, host: &str) -> (String, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec![host.to_owned()]).unwrap();
    leaf.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    leaf.not_after =
        time::OffsetDateTime::now_utc() + time::Duration::days(days) + time::Duration::hours(1);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("https://{host}:{port}");
    let document = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
    .to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, document) = (acceptor.clone(), document.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{document}",
                    document.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (
        format!("{issuer}/.well-known/openid-configuration"),
        ca_file,
    )
}
