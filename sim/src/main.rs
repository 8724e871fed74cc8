//! `intersight-sim`: start the simulator, print how to use it, run until a signal.

use clap::Parser;
use intersight_sim::dataset::{format_time, parse_dataset, Generator};
use intersight_sim::faults::FaultConfig;
use intersight_sim::keys::prepare_keys;
use intersight_sim::oauth::{OAuthConfig, OAuthState};
use intersight_sim::server::{serve, shift, AppState};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Parser, Debug)]
#[command(
    name = "intersight-sim",
    version,
    about = "Local Cisco Intersight simulator for iam/OAuthTokens"
)]
struct Cli {
    /// Number of generated tokens.
    #[arg(long, default_value_t = 100)]
    tokens: usize,
    /// Seed for the generated dataset (same seed, same tokens).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fixed RFC 3339 instant the generated times are relative to (default: now, shifted by --clock-skew).
    #[arg(long)]
    anchor_time: Option<String>,
    /// Load the dataset from a JSON array (or a list response) instead of generating it.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the dataset as a JSON array to this file.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Exit after preparing state (keys, dump) instead of serving.
    #[arg(long)]
    no_serve: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Directory for keys, keys.json and ca.pem (default: a new directory under the temp dir).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Keep the API keys already in --state-dir (when all key files exist).
    #[arg(long)]
    reuse_keys: bool,
    /// Largest accepted distance, in seconds, of `date` and `(created)` from the server clock.
    #[arg(long, default_value_t = 300)]
    max_skew: u64,
    /// Seconds added to the simulator's clock (negative for behind).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_skew: i64,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Uniform random extra latency up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Initial fault configuration, the same JSON `PUT /_sim/faults` takes.
    #[arg(long)]
    faults: Option<String>,
    /// Print one JSON line with the connection details instead of the human summary.
    #[arg(long)]
    json_ready: bool,
    /// Also write the ready JSON to this file once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Lifetime of the OAuth access tokens `/iam/token` issues, in seconds (fractions allowed).
    #[arg(long, default_value_t = 3600.0)]
    token_lifetime: f64,
    /// Revoke each OAuth access token after this many API requests made with it.
    #[arg(long)]
    revoke_after_uses: Option<u64>,
    /// Initial token endpoint configuration, the same JSON `PUT /_sim/oauth` takes.
    #[arg(long)]
    oauth: Option<String>,
    /// Stop after this many seconds (safety net for scripts).
    #[arg(long)]
    stop_after: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Keys(#[from] intersight_sim::keys::KeyError),
    #[error(transparent)]
    Tls(#[from] intersight_sim::tls::TlsError),
    #[error(transparent)]
    Dataset(#[from] intersight_sim::dataset::DatasetError),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |e| StartError::Io(what, e)
}

fn anchor(cli: &Cli) -> Result<OffsetDateTime, StartError> {
    match &cli.anchor_time {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
            StartError::Message(format!("--anchor-time '{text}' is not RFC 3339: {e}"))
        }),
        None => Ok(OffsetDateTime::from(shift(
            SystemTime::now(),
            cli.clock_skew,
        ))),
    }
}

/// `text` as one POSIX shell word: unchanged when it needs no quoting, else single-quoted, so
/// the printed `export` lines work when pasted even for a state directory with spaces.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-:+=@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), StartError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io_error(format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io_error(format!("cannot write {}", path.display())))
}

async fn run(cli: Cli) -> Result<(), StartError> {
    let mut faults = match &cli.faults {
        Some(text) => serde_json::from_str::<FaultConfig>(text).map_err(|e| {
            StartError::Message(format!("--faults is not a valid fault configuration: {e}"))
        })?,
        None => FaultConfig::default(),
    };
    if cli.latency_ms > 0 {
        faults.latency_ms = cli.latency_ms;
    }
    if cli.jitter_ms > 0 {
        faults.jitter_ms = cli.jitter_ms;
    }
    faults.validate().map_err(StartError::Message)?;
    let mut oauth_config = match &cli.oauth {
        Some(text) => serde_json::from_str::<OAuthConfig>(text).map_err(|e| {
            StartError::Message(format!("--oauth is not a valid OAuth configuration: {e}"))
        })?,
        None => OAuthConfig::default(),
    };
    if cli.oauth.is_none() || cli.token_lifetime != 3600.0 {
        oauth_config.token_lifetime_secs = cli.token_lifetime;
    }
    if cli.revoke_after_uses.is_some() {
        oauth_config.revoke_after_uses = cli.revoke_after_uses;
    }
    oauth_config.validate().map_err(StartError::Message)?;
    let oauth = OAuthState::generate(oauth_config);

    let state_dir = match &cli.state_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("intersight-sim-{}", std::process::id())),
    };
    std::fs::create_dir_all(&state_dir)
        .map_err(io_error(format!("cannot create {}", state_dir.display())))?;
    let state_dir = state_dir
        .canonicalize()
        .map_err(io_error(format!("cannot resolve {}", state_dir.display())))?;

    let anchor = anchor(&cli)?;
    let mut generator = Generator::new(cli.seed, anchor);
    let items = match &cli.data {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(io_error(format!("cannot read {}", path.display())))?;
            parse_dataset(&text)?
        }
        None => generator.tokens(cli.tokens),
    };
    if let Some(path) = &cli.dump {
        let text = serde_json::to_string_pretty(&Value::Array(items.clone())).unwrap_or_default();
        write_atomically(path, &(text + "\n"))?;
    }

    let keys = prepare_keys(&state_dir, cli.reuse_keys)?;
    if cli.no_serve {
        return Ok(());
    }
    let ca_path = state_dir.join("ca.pem");
    let tls = if cli.plain_http {
        None
    } else {
        Some(tokio_rustls::TlsAcceptor::from(
            intersight_sim::tls::server_config(&ca_path)?,
        ))
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(io_error(format!("cannot listen on {}", cli.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(io_error("cannot read the bound address"))?;
    let scheme = if cli.plain_http { "http" } else { "https" };
    let endpoint = format!("{scheme}://{bound}");
    let token_count = items.len();

    let ready = json!({
        "endpoint": endpoint,
        "ca_path": if cli.plain_http { Value::Null } else { json!(ca_path.display().to_string()) },
        "state_dir": state_dir.display().to_string(),
        "rsa": keys.rsa.to_json(),
        "ec": keys.ec.to_json(),
        "tokens": token_count,
        "pid": std::process::id(),
        "anchor_time": format_time(anchor, 3),
        "oauth": oauth.ready_json(&endpoint),
    });
    let oauth_client_id = oauth.client_id.clone();
    let oauth_client_secret = oauth.client_secret.clone();
    let state = Arc::new(
        AppState::new(
            keys.store.clone(),
            cli.max_skew,
            cli.clock_skew,
            items,
            generator,
            faults,
        )
        .with_oauth(oauth),
    );
    *state
        .info
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = ready.clone();

    if let Some(path) = &cli.ready_file {
        write_atomically(path, &format!("{ready}\n"))?;
    }
    if cli.json_ready {
        println!("{ready}");
    } else {
        println!(
            "Intersight simulator listening on {endpoint} ({token_count} tokens, seed {})",
            cli.seed
        );
        println!("State directory: {}", state_dir.display());
        if !cli.plain_http {
            println!("CA certificate (trust this for TLS): {}", ca_path.display());
        }
        println!();
        println!("RSA (v2) API key id: {}", keys.rsa.key_id);
        println!("RSA (v2) key file:   {}", keys.rsa.key_path.display());
        println!("EC (v3) API key id:  {}", keys.ec.key_id);
        println!("EC (v3) key file:    {}", keys.ec.key_path.display());
        println!();
        println!("To use it (RSA key; swap in the EC key id and file for v3):");
        println!("  export INTERSIGHT_ENDPOINT_URL={}", shell_word(&endpoint));
        println!(
            "  export INTERSIGHT_API_KEY={}",
            shell_word(&keys.rsa.key_id)
        );
        println!(
            "  export INTERSIGHT_SECRET_KEY={}",
            shell_word(&keys.rsa.key_path.display().to_string())
        );
        if !cli.plain_http {
            // Without it the provider does not trust the simulator's certificate.
            println!(
                "  export INTERSIGHT_CA_CERTIFICATE={}",
                shell_word(&ca_path.display().to_string())
            );
        }
        println!();
        println!("Or OAuth client credentials (instead of INTERSIGHT_API_KEY and INTERSIGHT_SECRET_KEY):");
        println!(
            "  export INTERSIGHT_CLIENT_ID={}",
            shell_word(&oauth_client_id)
        );
        println!(
            "  export INTERSIGHT_CLIENT_SECRET={}",
            shell_word(&oauth_client_secret)
        );
        println!();
        println!("Control API (unsigned): {endpoint}/_sim/stats, /_sim/faults, /_sim/reset, /_sim/dataset, /_sim/oauth");
        println!("Press Ctrl-C to stop.");
    }

    let stop_after = cli.stop_after;
    let shutdown = async move {
        let stop_timer = async {
            match stop_after {
                Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                None => std::future::pending::<()>().await,
            }
        };
        let terminate = async {
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
            #[cfg(not(unix))]
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
            () = stop_timer => {}
        }
    };
    serve(listener, tls, state, shutdown).await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("intersight-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intersight-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(
            shell_word("https://127.0.0.1:4443"),
            "https://127.0.0.1:4443"
        );
        assert_eq!(shell_word("/tmp/sim-1/ca.pem"), "/tmp/sim-1/ca.pem");
        assert_eq!(shell_word("/tmp/my sim/ca.pem"), "'/tmp/my sim/ca.pem'");
        assert_eq!(shell_word("/tmp/it's/ca.pem"), r"'/tmp/it'\''s/ca.pem'");
        assert_eq!(shell_word(""), "''");
    }
}
