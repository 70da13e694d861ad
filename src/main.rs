//! Thin entry point: parse the command line, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use rdsguard::cli::{Cli, LogFormat};
use rdsguard::error::EXIT_INCOMPLETE;
use tracing_subscriber::EnvFilter;

/// Logs go to stderr (stdout is the commands' output).
#[allow(clippy::disallowed_methods)]
fn init_logging(cli: &Cli) {
    // On a terminal (text logs), the progress lines say what the info logs would, and a log line
    // would scroll through their drawing: info is for logs that are read later.
    let drawn = matches!(cli.log_format, LogFormat::Text)
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) if drawn => "rdsguard=warn,warn",
        (false, 0) => "rdsguard=info,warn",
        (false, 1) => "rdsguard=debug,info",
        (false, _) => "rdsguard=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_INCOMPLETE);
        }
    };
    match runtime.block_on(rdsguard::commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {error}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}
