//! The rustls configuration of the API connection.

use std::sync::Arc;

use crate::error::ConfigError;

/// TLS settings for the API connection.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept any server certificate (only when explicitly asked for).
    pub insecure: bool,
    /// Extra trusted CA certificates: PEM text, or a path to a PEM file.
    pub ca_certificate: Option<String>,
}

/// Builds the rustls configuration: system roots (webpki roots when the system has none),
/// plus `ca_certificate`, or a verifier that accepts anything when `insecure` is set.
pub(crate) fn build_tls(options: &TlsOptions) -> Result<rustls::ClientConfig, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;

    let extra: Vec<CertificateDer<'static>> = match &options.ca_certificate {
        None => Vec::new(),
        Some(value) => {
            // PEM text or a path (`~/` expanded), by the rules `secretkey` follows too.
            let pem = crate::pem_source::ca_certificate_pem(
                value,
                crate::pem_source::home_from_process().as_deref(),
            )
            .map_err(|e| ConfigError::CaCertificate(e.to_string()))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::CaCertificate(format!("bad PEM: {e}")))?;
            if certs.is_empty() {
                return Err(ConfigError::CaCertificate(
                    "no CERTIFICATE block found".into(),
                ));
            }
            certs
        }
    };

    let mut config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for (i, cert) in extra.into_iter().enumerate() {
            roots.add(cert).map_err(|e| {
                ConfigError::CaCertificate(format!("certificate #{} is not usable: {e}", i + 1))
            })?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // A preconfigured rustls config must announce ALPN itself. HTTP/1.1 only: HTTP/2 was no
    // faster for these reads (BENCHMARKS.md, "HTTP/2"), and a server that speaks nothing else
    // refuses the handshake, which `tls_problem` names.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The `insecure` verifier: any certificate, any name; handshake signatures still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_config_rejects_bad_ca_and_accepts_generated_ca() {
        let err = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into(),
            ),
        })
        .unwrap_err();
        assert!(err.to_string().contains("ca_certificate"), "{err}");
        let err = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some("/nonexistent/ca.pem".into()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let cfg = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some(ca.cert.pem()),
        })
        .unwrap();
        assert_eq!(cfg.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(build_tls(&TlsOptions {
            insecure: true,
            ca_certificate: None
        })
        .is_ok());
    }
}
