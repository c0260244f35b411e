//! smith: the thin control CLI of smithd. Parse, connect, render.

use std::process::ExitCode;

use clap::Parser;
use smith::cli::{self, Cli, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smith: cannot start the runtime: {e}");
            return ExitCode::from(cli::EXIT_FAILED);
        }
    };
    ExitCode::from(runtime.block_on(cli::run(cli)))
}
