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
    /// A CA and a leaf certificate for `127.0.0.1` valid from yesterday for a week.
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // Distinct names: OpenSSL (Node) takes a leaf named like its issuer for self-signed.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "stagedoor test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
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
