//! smithd: the smith service. Thin: arguments → config → telemetry → `service::run` (or, as
//! `smithd worker`, `cluster::run_node`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use smith::config::{Config, config_source};
use smith::service::{self, ShutdownLevel};

/// Runs Claude Code workers under an Erlang/OTP-style supervision tree, in the foreground, with
/// its state in SQLite under the data directory and a control socket for `smith`.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Config file (default: $SMITH_CONFIG, else $XDG_CONFIG_HOME/smith/smith.toml if it exists).
    /// SMITH_<SECTION>__<KEY> environment variables override it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Validate the configuration, print the effective one, and exit.
    #[arg(long)]
    check_config: bool,
    #[command(subcommand)]
    role: Option<Role>,
}

/// What this smithd is (without one: the control plane — sessions, store, control socket).
#[derive(clap::Subcommand, Clone, Copy)]
enum Role {
    /// A worker node: takes attempts from the cluster (`[cluster] nats_url`) and runs them on
    /// this host; no sessions, no store, no socket.
    Worker,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(
        Some(config_source(args.config.as_deref())),
        std::env::vars(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smithd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smithd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let telemetry = smith::telemetry::init(
            &config.telemetry,
            config.service.log_format,
            &config.service.log_level,
        )
        .await
        .map_err(|e| e.to_string())?;
        let (tx, rx) = service::shutdown::channel();
        // SIGTERM/SIGINT: the first stops gracefully, the second hurries.
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            let mut level = ShutdownLevel::Graceful;
            loop {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                tracing::info!(?level, "signal received");
                service::shutdown::raise(&tx, level);
                level = ShutdownLevel::Immediate;
            }
        });
        let result = match args.role {
            None => service::run(config, rx).await.map_err(|e| e.to_string()),
            Some(Role::Worker) => {
                let node = config.node();
                let mut rx = rx;
                let stop = async move {
                    service::shutdown::reached(&mut rx, ShutdownLevel::Graceful).await;
                };
                smith::cluster::run_node(node, stop)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        // Telemetry is flushed last, after the tree has stopped.
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smithd: {e}");
            ExitCode::FAILURE
        }
    }
}
