//! The command line a person types: `--debug`, `--version`, `--help`. Terraform itself passes
//! no arguments. Pure functions over the arguments and environment values, so they are
//! unit-tested; `tests/it/plugin_launch.rs` and `tests/e2e/test_cli.py` run the real binary.

use super::handshake::SUPPORTED;
use super::ServeConfig;

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Serve the provider: launched by Terraform, or by hand with `--debug`.
    Serve {
        /// `--debug` was given: serve plaintext without the magic cookie and print a
        /// `TF_REATTACH_PROVIDERS` line.
        debug: bool,
    },
    /// Print the version and the plugin protocols served (`--version`).
    Version,
    /// Print the help text (`--help`).
    Help,
}

/// A command line that [`parse`] rejects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    /// An argument that is not one of our flags (it is quoted in the message).
    #[error("unknown argument {0:?}")]
    UnknownArgument(String),
}

/// Parses the arguments (without the program name). Both `--flag` and Go's `-flag` are
/// accepted, as Go providers built on the plugin SDKs accept `-debug`. `--help` and
/// `--version` win over `--debug`, so they never start a server.
pub fn parse<I, S>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut debug = false;
    let mut version = false;
    let mut help = false;
    for arg in args {
        match arg.as_ref() {
            "--debug" | "-debug" => debug = true,
            "--version" | "-version" | "-v" => version = true,
            "--help" | "-help" | "-h" => help = true,
            other => return Err(CliError::UnknownArgument(other.to_string())),
        }
    }
    Ok(if help {
        Command::Help
    } else if version {
        Command::Version
    } else {
        Command::Serve { debug }
    })
}

/// The `--version` answer: the version, the registry address, and the plugin protocols served
/// (narrowed by the restriction variable, [`ServeConfig::protocol_env`], when that holds a
/// version we serve).
pub fn version_text(config: &ServeConfig, restriction: Option<&str>) -> String {
    let all = join(&SUPPORTED);
    let offered = match super::handshake::offered_versions(config.protocol_env, restriction) {
        Ok(offered) if offered.len() < SUPPORTED.len() => format!(
            "{} (restricted by {}; supported: {all})",
            join(&offered),
            config.protocol_env
        ),
        Ok(_) => all,
        Err(err) => format!("{all} (ignoring {err})"),
    };
    format!(
        "{name} {version}\nprovider: {address}\nplugin protocols: {offered}\n",
        name = config.name,
        version = config.version,
        address = config.address,
    )
}

/// The `--help` text: what the binary is, its flags, and the environment variables that
/// change how it starts or logs (with the provider's own, [`ServeConfig::environment_help`]).
pub fn help_text(config: &ServeConfig) -> String {
    format!(
        "{name} {version}: {summary}\n\
         ({address}). Terraform starts this binary by itself;\n\
         run it by hand only with one of these flags.\n\
         \n\
         Usage: {name} [--debug | --version | --help]\n\
         \n\
         Flags:\n\
         \x20 --debug    Serve without Terraform launching the provider and print a\n\
         \x20            TF_REATTACH_PROVIDERS line; export it in the shell where you run\n\
         \x20            Terraform.{debug_help}\n\
         \x20            Ctrl-C stops it.\n\
         \x20 --version  Print the version and the plugin protocols served.\n\
         \x20 --help     Print this help.\n\
         \n\
         Environment:\n\
         \x20 {protocol_env}  5 or 6: offer only that plugin protocol (default: {protocols})\n\
         \x20 TF_LOG_PROVIDER, TF_LOG     log level: TRACE, DEBUG, INFO, WARN, ERROR or OFF\n\
         \x20                             (TF_LOG_PROVIDER wins); hclog JSON lines on stderr\n\
         {environment_help}",
        name = config.name,
        version = config.version,
        summary = config.summary,
        address = config.address,
        debug_help = config.debug_help,
        protocol_env = config.protocol_env,
        environment_help = config.environment_help,
        protocols = join(&SUPPORTED),
    )
}

/// The one-line usage shown after an unknown argument.
pub fn usage(config: &ServeConfig) -> String {
    format!("usage: {} [--debug | --version | --help]", config.name)
}

fn join(versions: &[u32]) -> String {
    versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_both_spellings() {
        let none: [&str; 0] = [];
        assert_eq!(parse(none), Ok(Command::Serve { debug: false }));
        assert_eq!(parse(["--debug"]), Ok(Command::Serve { debug: true }));
        assert_eq!(parse(["-debug"]), Ok(Command::Serve { debug: true }));
        assert_eq!(parse(["--version"]), Ok(Command::Version));
        assert_eq!(parse(["-version"]), Ok(Command::Version));
        assert_eq!(parse(["-v"]), Ok(Command::Version));
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        assert_eq!(parse(["-h"]), Ok(Command::Help));
    }

    #[test]
    fn help_and_version_never_serve() {
        assert_eq!(parse(["--debug", "--version"]), Ok(Command::Version));
        assert_eq!(parse(["--version", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn unknown_arguments_are_named() {
        assert_eq!(
            parse(["--debug", "--verbose"]),
            Err(CliError::UnknownArgument("--verbose".into()))
        );
        assert_eq!(
            parse(["plan"]).unwrap_err().to_string(),
            "unknown argument \"plan\""
        );
    }

    fn config() -> ServeConfig {
        ServeConfig {
            protocol_env: "EXAMPLE_PLUGIN_PROTOCOL",
            environment_help: "  EXAMPLE_TOKEN               the token\n",
            ..ServeConfig::new(
                "terraform-provider-example",
                "0.1.2",
                "example.com/test/example",
            )
        }
    }

    #[test]
    fn version_names_the_version_and_the_protocols() {
        let text = version_text(&config(), None);
        assert!(text.starts_with("terraform-provider-example 0.1.2\n"));
        assert!(text.contains("provider: example.com/test/example\n"));
        assert!(text.contains("plugin protocols: 5, 6\n"), "{text}");
    }

    #[test]
    fn version_shows_the_restriction_and_ignores_a_bad_one() {
        let five = version_text(&config(), Some("5"));
        assert!(
            five.contains(
                "plugin protocols: 5 (restricted by EXAMPLE_PLUGIN_PROTOCOL; supported: 5, 6)"
            ),
            "{five}"
        );
        let bad = version_text(&config(), Some("7"));
        assert!(bad.contains("plugin protocols: 5, 6 (ignoring"), "{bad}");
        assert!(bad.contains("\"7\""), "{bad}");
    }

    #[test]
    fn help_lists_every_flag_and_variable() {
        let help = help_text(&config());
        for needle in [
            "--debug",
            "--version",
            "--help",
            "EXAMPLE_PLUGIN_PROTOCOL",
            "TF_LOG_PROVIDER",
            "TF_LOG ",
            "EXAMPLE_TOKEN",
            "TF_REATTACH_PROVIDERS",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
        assert!(help.lines().all(|l| l.len() <= 100), "{help}");
    }
}
