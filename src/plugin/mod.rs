//! The go-plugin layer: how Terraform launches, reaches and stops this binary.
//!
//! - [`handshake`]: magic cookie, protocol negotiation, handshake and reattach lines.
//! - [`tls`]: AutoMTLS (fresh server certificate, pinned client certificate).
//! - [`serve`]: private unix socket, accept loop, tonic server, the ways the process ends.
//! - `services`: GRPCController (Shutdown) and GRPCStdio.
//!
//! Launch by Terraform: `TF_PLUGIN_MAGIC_COOKIE` set, `PLUGIN_PROTOCOL_VERSIONS` lists what
//! Terraform speaks, `PLUGIN_CLIENT_CERT` (when set) asks for AutoMTLS. The first stdout line
//! is the handshake; stdout is then pointed at stderr so nothing else can reach it.
//! `--debug`: serve plaintext without the cookie and print a `TF_REATTACH_PROVIDERS` line.

pub mod handshake;
pub mod serve;
mod services;
pub mod tls;

use std::io::Write;
use std::sync::Arc;

use crate::logging;
use crate::provider::Provider;

/// Generated go-plugin services (`plugin` package): controller, stdio, broker.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("plugin");
}

const USAGE: &str = "usage: terraform-provider-intersight [--debug]\n  \
--debug  serve without Terraform launching us and print a TF_REATTACH_PROVIDERS line to use";

/// Runs the plugin and returns the process exit code.
pub fn main() -> i32 {
    logging::init_from_env();
    let mut debug = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--debug" | "-debug" => debug = true,
            "--help" | "-help" | "-h" => {
                eprintln!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return 2;
            }
        }
    }

    if !debug
        && std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref()
            != Some(handshake::MAGIC_COOKIE_VALUE)
    {
        eprintln!("{}", handshake::NOT_A_PLUGIN_HINT);
        return 1;
    }

    let restriction = std::env::var(handshake::RESTRICT_ENV).ok();
    let offered = match handshake::offered_versions(restriction.as_deref()) {
        Ok(offered) => offered,
        Err(err) => {
            eprintln!("Error: {err}");
            return 1;
        }
    };
    let version = if debug {
        offered.iter().copied().max().unwrap_or(6)
    } else {
        let client = std::env::var(handshake::CLIENT_VERSIONS_ENV).ok();
        match handshake::negotiate(client.as_deref(), &offered) {
            Ok(version) => version,
            Err(err) => {
                eprintln!("Error: {err}");
                return 1;
            }
        }
    };

    let client_cert = std::env::var(tls::CLIENT_CERT_ENV)
        .ok()
        .filter(|pem| !pem.trim().is_empty());
    let tls = match client_cert {
        Some(pem) if !debug => match tls::AutoMtls::new(&pem) {
            Ok(tls) => Some(tls),
            Err(err) => {
                eprintln!("Error: {err}");
                return 1;
            }
        },
        _ => None,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: cannot start the async runtime: {err}");
            return 1;
        }
    };
    let options = serve::ServeOptions {
        protocol_version: version,
        tls,
        debug,
    };
    let provider = Arc::new(Provider::new());
    let outcome = runtime.block_on(serve::serve(options, provider, |socket, cert| {
        if debug {
            announce_debug(version, &socket.display().to_string());
        } else {
            announce_handshake(&handshake::handshake_line(
                version,
                &socket.display().to_string(),
                cert,
            ));
        }
    }));
    // Tasks still parked on open connections must not hold the exit up.
    runtime.shutdown_background();
    match outcome {
        Ok(_) => 0,
        Err(err) => {
            logging::error("plugin server failed", &[("error", &err)]);
            eprintln!("Error: {err}");
            1
        }
    }
}

/// Prints the handshake as the first stdout line, then points stdout at stderr so that no
/// later write (ours or a dependency's) can corrupt the channel go-plugin reads.
fn announce_handshake(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    if let Err(err) = written {
        logging::error("cannot write the handshake to stdout", &[("error", &err)]);
    }
    // SAFETY: dup2 on the process's own standard descriptors; fd 2 stays open for the
    // process's lifetime and the stdout lock above is held, so no Rust write races the swap.
    let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    if rc < 0 {
        logging::warn(
            "cannot redirect stdout to stderr after the handshake",
            &[("error", &std::io::Error::last_os_error())],
        );
    }
}

fn announce_debug(version: u32, socket: &str) {
    let line = handshake::reattach_line(version, std::process::id(), socket);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    eprintln!(
        "Provider started in debug mode (plugin protocol {version}). Export the \
         TF_REATTACH_PROVIDERS line above in the shell where you run Terraform; \
         stop the provider with Ctrl-C."
    );
}
