//! The `stagedoor` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, LogFormat, LoggingSettings};
use crate::server::{self, Dependencies};

#[derive(Debug, Parser)]
#[command(
    name = "stagedoor",
    version,
    about = "Drop-in replacement for Backstage's auth backend"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /api/auth.
    Serve {
        #[command(flatten)]
        files: ConfigFiles,
    },
    /// Check a configuration: offline (what start-up refuses, plain-text secrets, scopes,
    /// provider shapes, CORS) and online (IdPs, catalog, database). Exit status: 0 healthy,
    /// 1 errors found, 2 the configuration does not load.
    Doctor {
        #[command(flatten)]
        files: ConfigFiles,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Skip the checks that contact the IdPs, the catalog and the database.
        #[arg(long)]
        offline: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ConfigFiles {
    /// Backstage config files; later files override earlier ones.
    #[arg(
        long = "config",
        short = 'c',
        value_name = "FILE",
        default_value = "app-config.yaml"
    )]
    pub configs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { files } => serve(&files.configs),
        Command::Doctor {
            files,
            format,
            offline,
        } => doctor(&files.configs, format, offline),
    }
}

fn doctor(configs: &[PathBuf], format: ReportFormat, offline: bool) -> ExitCode {
    // Only warnings from libraries, so the report is the output.
    init_logging(&LoggingSettings {
        format: LogFormat::Text,
        level: "warn".into(),
    });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("stagedoor: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let sources: Vec<config::Source> = configs.iter().cloned().map(config::Source::File).collect();
    let report = runtime.block_on(crate::doctor::run(&sources, &config::process_env, !offline));
    match format {
        ReportFormat::Text => print!("{}", report.text()),
        ReportFormat::Json => println!("{}", report.json()),
    }
    ExitCode::from(report.exit_code())
}

fn serve(configs: &[PathBuf]) -> ExitCode {
    let settings = match config::load_files(configs, &config::process_env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("stagedoor: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("stagedoor: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (files, watched) = (configs.to_vec(), configs.to_vec());
    let reloading = server::Reloading {
        load: std::sync::Arc::new(move || config::load_files(&files, &config::process_env)),
        fingerprint: Some(std::sync::Arc::new(move || {
            config::fingerprint(&watched, &config::process_env)
        })),
    };
    match runtime.block_on(server::run(
        settings,
        Dependencies::default(),
        Some(reloading),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stagedoor: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Diagnostic logs on stderr, text or JSON (`stagedoor.logging`); `RUST_LOG` overrides the
/// configured level.
fn init_logging(settings: &LoggingSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .fmt_fields(crate::logging::EscapedFields)
            .init(),
    }
}
