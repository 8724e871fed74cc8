//! Shared helpers for the plugin integration tests: launch the real binary the way
//! Terraform does, read its handshake, and talk gRPC to it over its unix socket.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-intersight");
pub(crate) const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A running plugin process and what its handshake said.
pub(crate) struct Plugin {
    pub(crate) child: Child,
    pub(crate) line: String,
    pub(crate) version: u32,
    pub(crate) socket: PathBuf,
    pub(crate) server_cert_der: Option<Vec<u8>>,
    pub(crate) handshake_time: Duration,
    stdout_rest: Option<std::thread::JoinHandle<String>>,
}

/// A client certificate like Terraform's: self-signed P-521, marked CA, for localhost.
pub(crate) struct ClientCert {
    pub(crate) pem: String,
    pub(crate) der: Vec<u8>,
    pub(crate) key_der: Vec<u8>,
}

impl ClientCert {
    pub(crate) fn terraform_like() -> ClientCert {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        ClientCert {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

impl Plugin {
    /// Launches with the cookie and `PLUGIN_PROTOCOL_VERSIONS=5,6`, plus `env`.
    pub(crate) fn launch(env: &[(&str, &str)]) -> Plugin {
        let mut all = vec![
            ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
        ];
        all.extend_from_slice(env);
        Plugin::launch_raw(&[], &all)
    }

    /// Launches with exactly these arguments and extra variables (the plugin-related ones from
    /// the test's own environment are removed first).
    pub(crate) fn launch_raw(args: &[&str], env: &[(&str, &str)]) -> Plugin {
        let mut plugin = spawn(args, env);
        let (version, socket, server_cert_der) = parse_line(&plugin.line);
        plugin.version = version;
        plugin.socket = socket;
        plugin.server_cert_der = server_cert_der;
        plugin
    }
}

/// `--debug` without the cookie: the first line is the reattach line, left unparsed.
pub(crate) fn launch_debug() -> Plugin {
    spawn(&["--debug"], &[])
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Plugin {
    {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .env_remove("PLUGIN_PROTOCOL_VERSIONS")
            .env_remove("PLUGIN_CLIENT_CERT")
            .env_remove("INTERSIGHT_PLUGIN_PROTOCOL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn the provider binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            tx.send(line).unwrap();
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            rest
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("handshake line within 20 s");
        let handshake_time = started.elapsed();
        Plugin {
            child,
            line: line.trim_end().to_string(),
            version: 0,
            socket: PathBuf::new(),
            server_cert_der: None,
            handshake_time,
            stdout_rest: Some(reader),
        }
    }
}

impl Plugin {
    /// Waits for the process to exit (up to `limit`); returns how long it took.
    pub(crate) fn wait_exit(
        &mut self,
        limit: Duration,
    ) -> Option<(Duration, std::process::ExitStatus)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some((start.elapsed(), status));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    /// Everything the process wrote to stdout after the first line (after it exited).
    pub(crate) fn stdout_after_handshake(&mut self) -> String {
        self.stdout_rest.take().unwrap().join().unwrap()
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill takes a pid and a signal number and touches no memory of ours; the pid
        // is our own child's, which we have not reaped yet, so it names no other process.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// A plaintext (h2c) channel.
    pub(crate) async fn plain_channel(&self) -> Result<Channel, tonic::transport::Error> {
        let socket = self.socket.clone();
        Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
            }))
            .await
    }

    /// An mTLS channel presenting `client`, trusting only the handshake's server certificate.
    pub(crate) async fn tls_channel(
        &self,
        client: &ClientCert,
    ) -> Result<Channel, tonic::transport::Error> {
        self.tls_channel_with(client, rustls::DEFAULT_VERSIONS)
            .await
    }

    /// Like [`Plugin::tls_channel`], limited to the given TLS versions.
    pub(crate) async fn tls_channel_with(
        &self,
        client: &ClientCert,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<Channel, tonic::transport::Error> {
        let server_cert =
            CertificateDer::from(self.server_cert_der.clone().expect("TLS handshake"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(server_cert).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![CertificateDer::from(client.der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client.key_der.clone())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let socket = self.socket.clone();
        Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                let connector = connector.clone();
                async move {
                    let stream = UnixStream::connect(socket).await?;
                    let name = ServerName::try_from("localhost").unwrap();
                    let tls = connector.connect(name, stream).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(tls))
                }
            }))
            .await
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits `1|<ver>|unix|<socket>|grpc|<cert>`.
pub(crate) fn parse_line(line: &str) -> (u32, PathBuf, Option<Vec<u8>>) {
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 6, "handshake {line:?}");
    assert_eq!(parts[0], "1");
    assert_eq!(parts[2], "unix");
    assert_eq!(parts[4], "grpc");
    let version = parts[1].parse().unwrap();
    let cert = if parts[5].is_empty() {
        None
    } else {
        assert!(!parts[5].ends_with('='), "cert must be unpadded base64");
        Some(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(parts[5])
                .expect("standard base64 without padding"),
        )
    };
    (version, PathBuf::from(parts[3]), cert)
}

/// `grpc.health.v1.Health/Check` for service `plugin`.
pub(crate) async fn plugin_health(channel: Channel) -> Result<i32, tonic::Status> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let response = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".to_string(),
        })
        .await?;
    Ok(response.into_inner().status)
}
