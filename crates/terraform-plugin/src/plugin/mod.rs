//! The go-plugin layer: how Terraform launches, reaches and stops this binary.
//!
//! - [`handshake`]: magic cookie, protocol negotiation, handshake and reattach lines.
//! - [`tls`]: AutoMTLS (fresh server certificate, pinned client certificate).
//! - [`serve`]: private unix socket, accept loop, tonic server, the ways the process ends.
//! - `services`: GRPCController (Shutdown) and GRPCStdio.
//! - [`cli`]: the flags a person types.
//!
//! Launch by Terraform: `TF_PLUGIN_MAGIC_COOKIE` set, `PLUGIN_PROTOCOL_VERSIONS` lists what
//! Terraform speaks, `PLUGIN_CLIENT_CERT` (when set) asks for AutoMTLS. The first stdout line
//! is the handshake; stdout is then pointed at stderr so nothing else can reach it.
//! `--debug`: serve plaintext without the cookie and print a `TF_REATTACH_PROVIDERS` line;
//! `--version`, `--help`: see [`cli`]. A launch that fails before the handshake prints its
//! reason as the first stdout line, which Terraform shows.
//!
//! A provider binary's `main` calls [`main`] with its [`ServeConfig`] and a [`Provider`].

pub mod cli;
pub mod handshake;
pub mod serve;
mod services;
pub mod tls;

pub use services::StopReason;

use std::cell::Cell;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::logging;
use crate::Provider;

/// What the plugin layer needs to know of the provider binary it serves: its names (for the
/// command line, the logs, the debug reattach line) and its help text.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The binary's name, `terraform-provider-<type>`.
    pub name: &'static str,
    /// The provider's version.
    pub version: &'static str,
    /// The registry address, e.g. `registry.terraform.io/hashicorp/example`.
    pub address: &'static str,
    /// What the provider is, after the version on the first line of `--help`.
    pub summary: &'static str,
    /// The variable that restricts the plugin protocols offered to one (`5` or `6`), so tests
    /// can force either.
    pub protocol_env: &'static str,
    /// Appended to the `--debug` flag's help (start it with a space; indent further lines by
    /// 13 spaces), e.g. which variables to set in the shell.
    pub debug_help: &'static str,
    /// Lines appended to the Environment section of `--help`, each ending in a newline.
    pub environment_help: &'static str,
    /// Printed when the binary is run by hand; `None`: a generic hint naming `address`.
    pub not_a_plugin_hint: Option<&'static str>,
}

impl ServeConfig {
    /// The configuration of the binary `name` serving the provider `address` at `version`,
    /// with generic help texts and `TF_PROVIDER_PLUGIN_PROTOCOL` as the restriction variable.
    pub const fn new(name: &'static str, version: &'static str, address: &'static str) -> Self {
        ServeConfig {
            name,
            version,
            address,
            summary: "a Terraform provider",
            protocol_env: "TF_PROVIDER_PLUGIN_PROTOCOL",
            debug_help: "",
            environment_help: "",
            not_a_plugin_hint: None,
        }
    }

    /// The start of the private socket directory's name: `tf-provider-<type>-`.
    pub fn socket_prefix(&self) -> String {
        let short = self.name.strip_prefix("terraform-").unwrap_or(self.name);
        format!("tf-{short}-")
    }
}

/// Generated go-plugin services (`plugin` package): controller, stdio, broker.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!("../generated/plugin.rs");
}

/// How long a failed launch keeps running after printing its reason on stdout. go-plugin
/// reads that line and shows it ("Unrecognized remote plugin message: ..."), but it also
/// watches for the process to exit, and an exit seen first replaces the reason with "plugin
/// exited before we could connect". Terraform kills the process once it has the line.
const FAILED_LAUNCH_LINGER: Duration = Duration::from_millis(500);

/// Why the provider could not start serving. Each is shown where the person who started it
/// reads it (see [`report_start_failure`]).
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Negotiation(#[from] handshake::NegotiationError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
}

/// Runs the plugin binary described by `config` and returns the process exit code: parses
/// the command line, and serves the provider `provider` makes until Terraform (or Ctrl-C in
/// debug mode) stops it.
pub fn main(config: &ServeConfig, provider: impl FnOnce() -> Arc<dyn Provider>) -> i32 {
    logging::set_module(&format!("provider.{}", config.name));
    logging::init_from_env();
    match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help) => {
            print!("{}", cli::help_text(config));
            0
        }
        Ok(cli::Command::Version) => {
            let restriction = std::env::var(config.protocol_env).ok();
            print!("{}", cli::version_text(config, restriction.as_deref()));
            0
        }
        Ok(cli::Command::Serve { debug }) => run(config, debug, provider),
        Err(err) => {
            eprintln!("{err}\n{}", cli::usage(config));
            2
        }
    }
}

/// Serves until Terraform (or Ctrl-C in debug mode) stops us.
fn run(config: &ServeConfig, debug: bool, provider: impl FnOnce() -> Arc<dyn Provider>) -> i32 {
    if !debug
        && std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref()
            != Some(handshake::MAGIC_COOKIE_VALUE)
    {
        match config.not_a_plugin_hint {
            Some(hint) => eprintln!("{hint}"),
            None => eprintln!("{}", handshake::not_a_plugin_hint(config.address)),
        }
        return 1;
    }
    let options = match serve_options(config, debug) {
        Ok(options) => options,
        Err(err) => return report_start_failure(config, &err, debug),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return report_start_failure(config, &StartError::Runtime(err), debug),
    };
    let version = options.protocol_version;
    let announced = Cell::new(false);
    let provider = provider();
    let outcome = runtime.block_on(serve::serve(options, provider, |socket, cert| {
        if debug {
            announce_debug(config.address, version, socket);
        } else {
            announce_handshake(&handshake::handshake_line(version, socket, cert));
        }
        announced.set(true);
    }));
    // Tasks still parked on open connections must not hold the exit up.
    runtime.shutdown_background();
    match outcome {
        Ok(_) => 0,
        Err(err) if !announced.get() => report_start_failure(config, &err.into(), debug),
        Err(err) => {
            logging::error("plugin server failed", &[("error", &err)]);
            eprintln!("Error: {err}");
            1
        }
    }
}

/// The protocol version to serve and the TLS setup, from what Terraform put in the
/// environment ([`ServeConfig::protocol_env`] narrows our offer).
fn serve_options(config: &ServeConfig, debug: bool) -> Result<serve::ServeOptions, StartError> {
    let restriction = std::env::var(config.protocol_env).ok();
    let offered = handshake::offered_versions(config.protocol_env, restriction.as_deref())?;
    let protocol_version = if debug {
        offered.iter().copied().max().unwrap_or(6)
    } else {
        let client = std::env::var(handshake::CLIENT_VERSIONS_ENV).ok();
        handshake::negotiate(client.as_deref(), &offered)?
    };
    let client_cert = std::env::var(tls::CLIENT_CERT_ENV)
        .ok()
        .filter(|pem| !pem.trim().is_empty());
    let tls = match client_cert {
        Some(pem) if !debug => Some(tls::AutoMtls::new(&pem)?),
        _ => None,
    };
    Ok(serve::ServeOptions {
        protocol_version,
        tls,
        debug,
        socket_prefix: config.socket_prefix(),
    })
}

/// Reports a failure before the handshake and returns the exit code. Terraform shows none of a
/// plugin's stderr (only its log has it) but does show the first stdout line when that is not
/// a handshake, so a launch by Terraform gets the reason on stdout too, as one line.
fn report_start_failure(config: &ServeConfig, err: &StartError, debug: bool) -> i32 {
    let reason = start_failure_line(config, err);
    eprintln!("Error: {reason}");
    if !debug {
        let mut stdout = std::io::stdout().lock();
        let written = writeln!(stdout, "{reason}").and_then(|()| stdout.flush());
        drop(stdout);
        if written.is_ok() {
            std::thread::sleep(FAILED_LAUNCH_LINGER);
        }
    }
    1
}

/// One line that go-plugin cannot mistake for a handshake (it splits on `|`).
fn start_failure_line(config: &ServeConfig, err: &StartError) -> String {
    let text = format!("{} {} cannot start: {err}", config.name, config.version);
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/")
}

/// Prints the handshake as the first stdout line, then points stdout at stderr so that no
/// later write (ours or a dependency's) can corrupt the channel go-plugin reads.
fn announce_handshake(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    if let Err(err) = written {
        logging::error("cannot write the handshake to stdout", &[("error", &err)]);
    }
    // SAFETY: dup2 takes two plain descriptor numbers and touches no memory of ours; both are
    // the process's own standard descriptors, fd 2 stays open for the process's lifetime, and
    // dup2 swaps fd 1 atomically (on failure it returns -1 and changes nothing). The stdout
    // lock above is still held, so no Rust write through `Stdout` races the swap; later writes
    // to fd 1 land on stderr.
    // (On Windows Rust's stdout is the process's standard output handle, not descriptor 1,
    // so there is nothing to swap; a stray write there is a log line for go-plugin.)
    #[cfg(unix)]
    {
        #[allow(unsafe_code)]
        let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
        if rc < 0 {
            logging::warn(
                "cannot redirect stdout to stderr after the handshake",
                &[("error", &std::io::Error::last_os_error())],
            );
        }
    }
}

fn announce_debug(address: &str, version: u32, socket: &str) {
    let line = handshake::reattach_line(address, version, std::process::id(), socket);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    eprintln!(
        "Provider started in debug mode (plugin protocol {version}). Export the \
         TF_REATTACH_PROVIDERS line above in the shell where you run Terraform; \
         stop the provider with Ctrl-C."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_failure_is_one_line_that_is_not_a_handshake() {
        let config = ServeConfig::new("terraform-provider-example", "0.1.2", "example.com/t/e");
        let err = StartError::Negotiation(handshake::NegotiationError::BadRestriction {
            variable: config.protocol_env,
            value: "7|x\nmore".into(),
        });
        let line = start_failure_line(&config, &err);
        assert!(!line.contains('\n') && !line.contains('|'), "{line}");
        assert!(
            line.starts_with(
                "terraform-provider-example 0.1.2 cannot start: TF_PROVIDER_PLUGIN_PROTOCOL="
            ),
            "{line}"
        );
        assert_eq!(config.socket_prefix(), "tf-provider-example-");
    }
}
