//! The `stagedoor` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::logging::writer::LogGuard;
use clap::{Parser, Subcommand};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::config::{self, LogFormat, LoggingSettings};
use crate::server::{self, Dependencies};
use crate::telemetry::{self, otlp};

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
    let Some(logs) = init_logging(
        &LoggingSettings {
            format: LogFormat::Text,
            level: "warn".into(),
        },
        None,
    ) else {
        return ExitCode::FAILURE;
    };
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
    drop(logs);
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
    let (traces, tracer, trouble) = start_tracing(runtime.handle());
    let Some(logs) = init_logging(&settings.logging, tracer) else {
        return ExitCode::FAILURE;
    };
    if let Some(trouble) = trouble {
        tracing::warn!("traces are not exported: {trouble}");
    }
    let (files, watched) = (configs.to_vec(), configs.to_vec());
    let reloading = server::Reloading {
        load: std::sync::Arc::new(move || config::load_files(&files, &config::process_env)),
        fingerprint: Some(std::sync::Arc::new(move || {
            config::fingerprint(&watched, &config::process_env)
        })),
    };
    let result = runtime.block_on(server::run(
        settings,
        Dependencies::default(),
        Some(reloading),
    ));
    // The spans still queued go out, then every log line is written, before the exit.
    if let Some(traces) = traces
        && let Err(error) = traces.shutdown()
    {
        tracing::warn!("the last traces were not exported: {error}");
    }
    drop(logs);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stagedoor: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The OTLP exporter if the `OTEL_*` environment asks for one (see [`telemetry::otlp`]); else
/// why not, when it asked for something stagedoor cannot do.
fn start_tracing(
    runtime: &tokio::runtime::Handle,
) -> (Option<SdkTracerProvider>, Option<SdkTracer>, Option<String>) {
    match telemetry::otlp::choice(&config::process_env) {
        otlp::Choice::Off => (None, None, None),
        otlp::Choice::Unsupported(reason) => (None, None, Some(reason)),
        otlp::Choice::Otlp => {
            let started = crate::outbound::client()
                .map_err(|error| error.to_string())
                .and_then(|http| otlp::start(&config::process_env, http, runtime.clone()));
            match started {
                Ok((provider, tracer)) => (Some(provider), Some(tracer), None),
                Err(reason) => (None, None, Some(reason)),
            }
        }
    }
}

/// Diagnostic logs on stderr, text or JSON (`stagedoor.logging`); `RUST_LOG` overrides the
/// configured level. Lines are gathered in memory and written by a thread of their own a
/// hundred times a second at most, so a request never waits on stderr and logging costs no
/// system call per line; none is dropped, and every line is out once the returned guard is
/// dropped. The access log skips tracing's formatting (see [`crate::logging::access`]). With
/// `tracer`, stagedoor's spans are exported. `None`, said on stderr, if the writer thread
/// cannot start.
fn init_logging(settings: &LoggingSettings, tracer: Option<SdkTracer>) -> Option<LogGuard> {
    use crate::logging::access;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, filter_fn};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (writer, guard) = match crate::logging::writer::start(std::io::stderr()) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("stagedoor: cannot start the log writer thread: {error}");
            return None;
        }
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer.clone());
    let (fmt, shape) = match settings.format {
        LogFormat::Json => (fmt.json().flatten_event(true).boxed(), access::Shape::Json),
        LogFormat::Text => (
            fmt.with_ansi(ansi)
                .fmt_fields(crate::logging::EscapedFields)
                .boxed(),
            access::Shape::Text,
        ),
    };
    // Coloured lines for a terminal come from tracing's own layer, the access log's too.
    // Otherwise access lines skip tracing (where the filter lets them through at all), and
    // tracing's layer writes every other target.
    let fmt = if ansi && settings.format == LogFormat::Text {
        fmt.with_filter(filter()).boxed()
    } else {
        let only_access = filter_fn(|metadata| metadata.target() == access::TARGET);
        if access::lets_through(filter().and(only_access)) {
            access::write_directly(access::AccessWriter { shape, writer });
        }
        let others = filter_fn(|metadata| metadata.target() != access::TARGET);
        fmt.with_filter(filter().and(others)).boxed()
    };
    let spans = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target(telemetry::TARGET, tracing::Level::INFO),
            )
    });
    tracing_subscriber::registry().with(fmt).with(spans).init();
    Some(guard)
}
