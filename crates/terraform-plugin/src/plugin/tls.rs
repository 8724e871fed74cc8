//! go-plugin AutoMTLS: a fresh self-signed server certificate per launch, and a client
//! certificate pinned to the one Terraform put in `PLUGIN_CLIENT_CERT`.
//!
//! Terraform's client certificate is a self-signed P-521 certificate marked as a CA, which
//! webpki's client verifier rejects (a CA used as an end entity). Trust here is pinning, not
//! path building: the presented end-entity DER must equal the pinned DER byte for byte, and
//! the handshake signature is checked against that certificate's key with the aws-lc-rs
//! provider's algorithms (which include ECDSA P-521).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The variable holding Terraform's client certificate (PEM).
pub const CLIENT_CERT_ENV: &str = "PLUGIN_CLIENT_CERT";

/// Why AutoMTLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` contains no `CERTIFICATE` PEM section.
    #[error("{CLIENT_CERT_ENV} holds no PEM certificate")]
    NoClientCertificate,
    /// `PLUGIN_CLIENT_CERT` is not well-formed PEM (e.g. a section body that is not base64).
    #[error("{CLIENT_CERT_ENV} is not valid PEM: {0}")]
    BadPem(rustls::pki_types::pem::Error),
    /// rcgen failed to make the per-launch server key or certificate.
    #[error("cannot generate the server certificate: {0}")]
    CertificateGeneration(#[from] rcgen::Error),
    /// rustls rejected the server configuration (protocol versions, key or certificate).
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The server side of AutoMTLS for one launch. The private key lives only inside the
/// rustls configuration; Debug shows nothing of it.
pub struct AutoMtls {
    server_cert_der: CertificateDer<'static>,
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for AutoMtls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoMtls").finish_non_exhaustive()
    }
}

impl AutoMtls {
    /// Builds the server configuration accepting only the client certificate in `client_cert_pem`.
    pub fn new(client_cert_pem: &str) -> Result<Self, TlsError> {
        let pinned = first_certificate(client_cert_pem)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (server_cert_der, key_der) = generate_server_certificate()?;
        let verifier = PinnedClientCert {
            pinned,
            algorithms: provider.signature_verification_algorithms,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![server_cert_der.clone()], key_der)?;
        // grpc-go (Terraform's client) refuses a TLS server that does not select h2 by ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(AutoMtls {
            server_cert_der,
            config: Arc::new(config),
        })
    }

    /// The server certificate (DER) to announce in the handshake line.
    pub fn server_cert_der(&self) -> &[u8] {
        self.server_cert_der.as_ref()
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// The crypto provider used here, for building matching clients in tests.
    pub fn crypto_provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }
}

fn first_certificate(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    match CertificateDer::pem_slice_iter(pem.as_bytes()).next() {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(err)) => Err(TlsError::BadPem(err)),
        None => Err(TlsError::NoClientCertificate),
    }
}

/// A P-256 self-signed certificate for `localhost`, usable for server authentication.
/// Not a CA: clients pin it as their only trust anchor, and webpki-based clients refuse a
/// CA certificate used as an end entity.
pub fn generate_server_certificate(
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    // Backdated a little so a host clock slightly behind ours still accepts it.
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// Accepts exactly one client certificate, compared as DER bytes.
struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for PinnedClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedClientCert").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn pinned_verifier_accepts_only_the_exact_certificate() {
        let (a, _) = generate_server_certificate().unwrap();
        let (b, _) = generate_server_certificate().unwrap();
        let verifier = PinnedClientCert {
            pinned: first_certificate(&pem_of(a.as_ref())).unwrap(),
            algorithms: AutoMtls::crypto_provider().signature_verification_algorithms,
        };
        assert!(verifier
            .verify_client_cert(&a, &[], UnixTime::now())
            .is_ok());
        assert!(verifier
            .verify_client_cert(&b, &[], UnixTime::now())
            .is_err());
        assert!(verifier.client_auth_mandatory());
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn server_config_offers_only_h2() {
        let (client, _) = generate_server_certificate().unwrap();
        let mtls = AutoMtls::new(&pem_of(client.as_ref())).unwrap();
        assert_eq!(mtls.config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(!mtls.server_cert_der().is_empty());
    }

    #[test]
    fn client_cert_variable_without_pem_is_an_error() {
        assert!(matches!(
            AutoMtls::new("not pem"),
            Err(TlsError::NoClientCertificate)
        ));
    }

    #[test]
    fn client_cert_variable_with_a_broken_pem_body_is_bad_pem() {
        let broken = "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n";
        let err = AutoMtls::new(broken).unwrap_err();
        assert!(matches!(err, TlsError::BadPem(_)), "{err:?}");
        assert!(err.to_string().contains(CLIENT_CERT_ENV), "{err}");
    }

    #[test]
    fn the_first_certificate_is_pinned_and_other_sections_are_skipped() {
        let (a, _) = generate_server_certificate().unwrap();
        let (b, _) = generate_server_certificate().unwrap();
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let pem = format!("{key}{}{}", pem_of(a.as_ref()), pem_of(b.as_ref()));
        assert_eq!(first_certificate(&pem).unwrap().as_ref(), a.as_ref());
    }

    #[test]
    fn each_launch_gets_a_new_server_certificate() {
        let (a, _) = generate_server_certificate().unwrap();
        let (b, _) = generate_server_certificate().unwrap();
        assert_ne!(a.as_ref(), b.as_ref());
    }
}
