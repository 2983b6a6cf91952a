//! `sipbridge`: an edge SIP gateway between SIP trunks and room servers.
//!
//! `sipbridge` alone runs the gateway with the embedded default configuration
//! (`configs/sipbridge.toml`); see `sipbridge --help` for the other commands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use gateway::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "sipbridge",
    version,
    about = "Edge SIP gateway between SIP trunks and room servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default command).
    Run {
        /// Configuration file; without it the embedded default is used.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file and report every problem found.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Parse and validate each file as one UDP datagram, the way the SIP listener would.
    ///
    /// Prints `FILE: ok` or `FILE: error: <reason> at byte <N> (would answer <code>|drop)`;
    /// exits 0 only if every file is ok.
    Parse {
        /// Files holding one SIP message each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run { config: None }) {
        Command::Run { config } => report(run(config)),
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Parse { files } => parse_files(&files),
    }
}

fn parse_files(files: &[PathBuf]) -> ExitCode {
    let limits = sip_message::Limits::default();
    let mut all_ok = true;
    for file in files {
        let line = match std::fs::read(file) {
            Ok(bytes) => match sip_message::receive(bytes.into(), &limits) {
                Ok(_) => "ok".to_owned(),
                Err(rejection) => {
                    all_ok = false;
                    format!("error: {rejection}")
                }
            },
            Err(err) => {
                all_ok = false;
                format!("error: cannot read: {err}")
            }
        };
        println!("{}: {line}", file.display());
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sipbridge: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config_path: Option<PathBuf>) -> Result<()> {
    let config = match &config_path {
        Some(path) => Config::load(path)?,
        None => Config::embedded_default()?,
    };
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(gateway::runtime::run(config, async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("SIPBRIDGE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
