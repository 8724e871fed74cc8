//! The binary launched the way Terraform launches it: cookie, negotiation, handshake line,
//! AutoMTLS, Shutdown, signals, debug mode.

use crate::plugin_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plugin_common::{plugin_health, ClientCert, Plugin, BIN, COOKIE};
use terraform_provider_intersight::plugin::proto::grpc_controller_client::GrpcControllerClient;
use terraform_provider_intersight::plugin::proto::Empty;

const SERVING: i32 = tonic_health::ServingStatus::Serving as i32;

#[test]
fn without_cookie_prints_hint_and_exits_1() {
    let output = Command::new(BIN)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout without a handshake"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("This binary is a plugin for Terraform"),
        "{stderr}"
    );
    assert!(stderr.contains("terraform init"), "{stderr}");
    assert!(stderr.contains("--debug"), "{stderr}");
}

#[test]
fn wrong_cookie_is_refused_too() {
    let output = Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", "nope")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}

/// The plugin as Terraform launches it (cookie and offered versions set, no AutoMTLS), with
/// `restriction` in INTERSIGHT_PLUGIN_PROTOCOL; it must exit before serving.
fn launched_by_terraform(offered: &str, restriction: &str) -> std::process::Output {
    Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", offered)
        .env("INTERSIGHT_PLUGIN_PROTOCOL", restriction)
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn no_common_protocol_version_exits_1_with_an_error() {
    let output = launched_by_terraform("6", "5");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line for Terraform: {stdout}"
    );
    assert!(!stdout.contains('|'), "not a handshake: {stdout}");
    assert!(stdout.contains("PLUGIN_PROTOCOL_VERSIONS"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PLUGIN_PROTOCOL_VERSIONS"), "{stderr}");
}

/// Terraform shows the first stdout line of a plugin that fails before the handshake
/// ("Unrecognized remote plugin message: ..."), never its stderr: the reason goes there.
#[test]
fn a_bad_protocol_restriction_is_explained_on_the_first_stdout_line() {
    let output = launched_by_terraform("5,6", "7");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = format!(
        "terraform-provider-intersight {} cannot start: INTERSIGHT_PLUGIN_PROTOCOL=\"7\" is not a \
         protocol version this provider serves: set it to 5 or 6, or unset it to offer both\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(stdout, expected);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected.trim_end()), "{stderr}");
}

/// A person running the binary gets the reason on stderr only: stdout stays for the
/// handshake, and debug mode prints no handshake.
#[test]
fn a_bad_protocol_restriction_in_debug_mode_is_on_stderr_only() {
    let output = Command::new(BIN)
        .arg("--debug")
        .env("INTERSIGHT_PLUGIN_PROTOCOL", "four")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INTERSIGHT_PLUGIN_PROTOCOL=\"four\""),
        "{stderr}"
    );
}

#[test]
fn version_prints_the_version_and_protocols_without_serving() {
    for flag in ["--version", "-version"] {
        let output = Command::new(BIN)
            .arg(flag)
            .env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .env_remove("INTERSIGHT_PLUGIN_PROTOCOL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout,
            format!(
                "terraform-provider-intersight {}\nprovider: registry.terraform.io/ciscodevnet/intersight\n\
                 plugin protocols: 5, 6\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(output.stderr.is_empty());
    }
}

#[test]
fn help_lists_the_flags_and_variables() {
    let output = Command::new(BIN)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--debug",
        "--version",
        "--help",
        "INTERSIGHT_PLUGIN_PROTOCOL",
        "TF_LOG_PROVIDER",
        "INTERSIGHT_API_KEY",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
}

#[test]
fn an_unknown_argument_exits_2_naming_it() {
    let output = Command::new(BIN)
        .arg("--verbose")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown argument \"--verbose\""),
        "{stderr}"
    );
    assert!(stderr.contains("--version"), "{stderr}");
}

#[test]
fn handshake_negotiates_6_by_default_and_5_when_restricted() {
    let p6 = Plugin::launch(&[]);
    assert_eq!(p6.version, 6);
    assert!(p6.line.starts_with("1|6|unix|"), "{}", p6.line);
    assert!(
        p6.line.ends_with("|grpc|"),
        "plaintext: empty cert field: {}",
        p6.line
    );
    assert!(p6.socket.exists());
    eprintln!("handshake time (v6, plaintext): {:?}", p6.handshake_time);

    let p5 = Plugin::launch(&[("INTERSIGHT_PLUGIN_PROTOCOL", "5")]);
    assert_eq!(p5.version, 5);
    assert!(p5.line.starts_with("1|5|unix|"), "{}", p5.line);

    let only5 = Plugin::launch(&[("PLUGIN_PROTOCOL_VERSIONS", "5")]);
    assert_eq!(only5.version, 5);
}

#[test]
fn socket_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let p = Plugin::launch(&[]);
    let dir = p.socket.parent().unwrap();
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn automtls_accepts_the_pinned_client_and_refuses_others() {
    let client = ClientCert::terraform_like();
    let p = Plugin::launch(&[("PLUGIN_CLIENT_CERT", &client.pem)]);
    assert!(
        p.server_cert_der.is_some(),
        "TLS handshake carries the server cert"
    );
    eprintln!("handshake time (v6, AutoMTLS): {:?}", p.handshake_time);

    let channel = p
        .tls_channel(&client)
        .await
        .expect("pinned client connects");
    assert_eq!(plugin_health(channel).await.unwrap(), SERVING);

    let stranger = ClientCert::terraform_like();
    let refused = match p.tls_channel(&stranger).await {
        Err(_) => true,
        Ok(channel) => plugin_health(channel).await.is_err(),
    };
    assert!(refused, "a different client certificate must be refused");

    // Plaintext h2c against the TLS socket fails as well.
    let plain = match p.plain_channel().await {
        Err(_) => true,
        Ok(channel) => plugin_health(channel).await.is_err(),
    };
    assert!(plain, "plaintext must be refused when AutoMTLS is on");

    // TLS 1.2 works too (its handshake signature goes through the other verify path).
    let tls12 = p
        .tls_channel_with(&client, &[&rustls::version::TLS12])
        .await
        .expect("TLS 1.2 client connects");
    assert_eq!(plugin_health(tls12).await.unwrap(), SERVING);
    let stranger12 = match p
        .tls_channel_with(&stranger, &[&rustls::version::TLS12])
        .await
    {
        Err(_) => true,
        Ok(channel) => plugin_health(channel).await.is_err(),
    };
    assert!(
        stranger12,
        "a different client certificate is refused over TLS 1.2"
    );

    // The failed handshakes did not take the server down.
    let channel = p
        .tls_channel(&client)
        .await
        .expect("pinned client reconnects");
    assert_eq!(plugin_health(channel).await.unwrap(), SERVING);
}

#[tokio::test]
async fn shutdown_exits_promptly_and_removes_the_socket_dir() {
    let client = ClientCert::terraform_like();
    let mut p = Plugin::launch(&[("PLUGIN_CLIENT_CERT", &client.pem), ("TF_LOG", "TRACE")]);
    let dir = p.socket.parent().unwrap().to_path_buf();
    let channel = p.tls_channel(&client).await.unwrap();
    let mut controller = GrpcControllerClient::new(channel);
    let asked = Instant::now();
    // The process may exit before or after the response arrives; either is fine.
    let _ = controller.shutdown(Empty {}).await;
    let (_, status) = p
        .wait_exit(Duration::from_secs(5))
        .expect("process exits after Shutdown");
    let elapsed = asked.elapsed();
    eprintln!("Shutdown -> exit: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(status.success(), "{status:?}");
    assert!(!dir.exists(), "socket dir {dir:?} must be removed");
    // Even with TRACE logging, nothing but the handshake reached stdout.
    assert_eq!(p.stdout_after_handshake(), "");
}

#[tokio::test]
async fn sigint_is_ignored_but_sigterm_stops_and_cleans_up() {
    let mut p = Plugin::launch(&[]);
    let dir = p.socket.parent().unwrap().to_path_buf();
    p.signal(libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        p.is_running(),
        "SIGINT must not stop a plugin launched by Terraform"
    );
    let channel = p.plain_channel().await.unwrap();
    assert_eq!(plugin_health(channel).await.unwrap(), SERVING);

    p.signal(libc::SIGTERM);
    let (took, _) = p
        .wait_exit(Duration::from_secs(5))
        .expect("SIGTERM stops it");
    eprintln!("SIGTERM -> exit: {took:?}");
    assert!(!dir.exists(), "socket dir {dir:?} must be removed");
}

#[tokio::test]
async fn debug_mode_prints_reattach_line_and_stops_on_ctrl_c() {
    let mut p = plugin_common::launch_debug();
    let json = p
        .line
        .strip_prefix("TF_REATTACH_PROVIDERS='")
        .and_then(|s| s.strip_suffix('\''))
        .expect("reattach line")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let entry = &v["registry.terraform.io/ciscodevnet/intersight"];
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["Pid"], p.child.id());
    let socket = std::path::PathBuf::from(entry["Addr"]["String"].as_str().unwrap());
    p.socket = socket.clone();
    let channel = p.plain_channel().await.unwrap();
    assert_eq!(plugin_health(channel).await.unwrap(), SERVING);

    p.signal(libc::SIGINT);
    p.wait_exit(Duration::from_secs(5))
        .expect("Ctrl-C stops debug mode");
    assert!(!socket.parent().unwrap().exists());
}

#[test]
fn parent_gone_stops_the_plugin_and_cleans_up() {
    use std::io::BufRead;
    // A shell launches the plugin in the background and exits: the plugin is re-parented.
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' & sleep 0.3"))
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("INTERSIGHT_PLUGIN_PROTOCOL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(shell.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (_, socket, _) = plugin_common::parse_line(line.trim_end());
    let dir = socket.parent().unwrap().to_path_buf();
    assert!(dir.exists());
    shell.wait().unwrap();
    let start = Instant::now();
    while dir.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !dir.exists(),
        "an orphaned plugin must exit and remove {dir:?}"
    );
    eprintln!(
        "parent gone -> socket dir removed after {:?}",
        start.elapsed()
    );
}

#[test]
fn long_tmpdir_falls_back_to_tmp_for_the_socket() {
    let long = tempfile::tempdir().unwrap();
    let deep = long.path().join("x".repeat(90));
    std::fs::create_dir_all(&deep).unwrap();
    let p = Plugin::launch(&[("TMPDIR", deep.to_str().unwrap())]);
    assert!(p.socket.starts_with("/tmp"), "{:?}", p.socket);
    assert!(p.socket.as_os_str().len() < 108);
    assert!(p.socket.exists());
}
