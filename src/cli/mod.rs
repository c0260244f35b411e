//! `smith`, the thin control CLI: parse, connect, render.
//!
//! - `args`: the command line (its doc comments are the help);
//! - [`client`]: the protocol's client side; `inputs`: the prompt and tasks of `smith ask`;
//! - `approvals`: tool calls waiting for a person (list, watch, decide); `prompt`: the inline
//!   prompt of `smith ask`;
//! - `usage`: what the workers cost (`smith usage`);
//! - `progress`: the live lines of a running request; `render`: the status tree, tables;
//!   `request_detail`: a request in full; `texts`: long texts fetched whole.

mod approvals;
pub(crate) mod args;
pub mod client;
mod follow;
mod followed;
mod input;
mod inputs;
mod live;
mod nodes;
pub(crate) mod progress;
mod prompt;
pub(crate) mod render;
mod repl;
mod repl_line;
mod request_detail;
mod task_row;
mod texts;
pub(crate) mod trace;
mod usage;
mod workspaces;

use std::io::IsTerminal;

use clap::CommandFactory;

use crate::protocol::{
    Ask, AskSpec, CancelRequest, HealthQuery, HistoryQuery, PruneRequest, Request, RequestStatus,
    Response, ResumeRequest, SessionsQuery, ShowQuery, ShutdownRequest, StatusQuery,
};

pub use args::Cli;
use args::{AskArgs, Command};
use client::{Client, ClientError, unexpected};
use follow::follow;
use render::print_json;

/// Exit code: the request succeeded (or the command did what it was asked).
pub const EXIT_OK: u8 = 0;
/// Exit code: failed, cancelled, interrupted, or an error.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the request is degraded.
pub const EXIT_DEGRADED: u8 = 2;
/// Exit code: smithd cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: bad usage.
pub const EXIT_USAGE: u8 = 64;

/// Runs one `smith` command and returns its exit code. Errors are one line on stderr.
pub async fn run(cli: Cli) -> u8 {
    let command = match cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "smith", &mut std::io::stdout());
            return EXIT_OK;
        }
        Some(command) => command,
        // `smith` alone on a terminal is the REPL; elsewhere it says how it is used.
        None if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => {
            Command::Repl(args::ReplArgs::default())
        }
        None => {
            let _ = Cli::command().print_help();
            return EXIT_USAGE;
        }
    };
    let socket = match crate::config::socket_path(cli.socket.clone()) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("smith: {e}");
            return EXIT_USAGE;
        }
    };
    let result = match command {
        Command::Repl(args) => return repl::repl(&socket, args).await,
        Command::Ask(mut args) => {
            // The inputs are read before connecting: a slow pipe must not hold a connection.
            match inputs::ask_inputs(
                args.prompt.take(),
                std::mem::take(&mut args.tasks),
                args.tasks_file.as_deref(),
            ) {
                Ok(inputs) => {
                    args.inputs = Some(inputs);
                    dispatch(&socket, Command::Ask(args)).await
                }
                Err(e) => Err(ClientError::Input(e.to_string())),
            }
        }
        command => dispatch(&socket, command).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smith: {e}");
            exit_for_error(&e)
        }
    }
}

/// The exit code of a command that failed with `e`.
fn exit_for_error(e: &ClientError) -> u8 {
    match e {
        ClientError::Unreachable { .. } => EXIT_UNREACHABLE,
        ClientError::Input(_) => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

/// 0 when every task was merged (or discarded), 1 when one stopped the run.
fn exit_for_apply(complete: bool) -> u8 {
    if complete { EXIT_OK } else { EXIT_FAILED }
}

fn exit_for(status: RequestStatus) -> u8 {
    match status {
        RequestStatus::Succeeded => EXIT_OK,
        RequestStatus::Degraded => EXIT_DEGRADED,
        _ => EXIT_FAILED,
    }
}

async fn dispatch(socket: &std::path::Path, command: Command) -> Result<u8, ClientError> {
    // `ask` and `resume` run inside a client span whose traceparent smithd continues.
    let trace = matches!(command, Command::Ask(_) | Command::Resume(_)).then(|| {
        trace::ClientTrace::start(match &command {
            Command::Ask(_) => "smith ask",
            _ => "smith resume",
        })
    });
    let traceparent = trace.as_ref().map(|t| t.traceparent.clone());
    let mut client = Client::connect(socket, traceparent.clone()).await?;
    let result = match command {
        Command::Ask(args) => ask(&mut client, socket, *args).await,
        Command::Resume(args) => {
            client
                .send(&Request::Resume(ResumeRequest {
                    request_id: args.request_id,
                    detach: args.detach,
                }))
                .await?;
            follow(&mut client, socket, args.json, None).await
        }
        Command::Watch(args) => live::watch(&mut client, socket, args).await,
        other => simple(&mut client, other).await,
    };
    if let Some(t) = trace {
        t.finish(matches!(result, Ok(EXIT_OK))).await;
    }
    result
}

async fn simple(client: &mut Client, command: Command) -> Result<u8, ClientError> {
    match command {
        Command::Ask(_) | Command::Resume(_) | Command::Watch(_) => {
            unreachable!("followed by dispatch")
        }
        Command::Status(a) => match client.call(&Request::Status(StatusQuery {})).await? {
            Response::Status(s) => {
                if a.json {
                    print_json(&s);
                } else {
                    print!("{}", render::status_tree(&s));
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Sessions(a) => match client.call(&Request::Sessions(SessionsQuery {})).await? {
            Response::Sessions(s) => {
                if a.json {
                    print_json(&s.sessions);
                } else {
                    print!("{}", render::sessions_table(&s.sessions));
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::History(a) => match client
            .call(&Request::History(HistoryQuery {
                session: a.session.clone(),
                before: a.before,
                limit: a.limit,
            }))
            .await?
        {
            Response::History(h) => {
                if a.json {
                    print_json(&h.requests);
                } else {
                    print!("{}", render::history_table(&h.requests));
                    if let (true, Some(first)) = (h.older, h.requests.first()) {
                        println!(
                            "(older requests: smith history {} --before {})",
                            a.session, first.seq
                        );
                    }
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Show(a) => match client
            .call(&Request::Show(ShowQuery {
                request_id: a.request_id,
            }))
            .await?
        {
            Response::Show(reply) => {
                let reply = if a.full {
                    texts::complete(client, reply).await?
                } else {
                    reply
                };
                if a.json {
                    print_json(&reply);
                } else {
                    print!("{}", request_detail::request_detail(&reply));
                    if a.tools {
                        print!("{}", live::tools_table(&reply.tools));
                    }
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Cancel(a) => match client
            .call(&Request::Cancel(CancelRequest {
                request_id: a.request_id.clone(),
            }))
            .await?
        {
            Response::Done(d) => {
                if a.json {
                    print_json(
                        &serde_json::json!({"request_id": a.request_id, "message": d.message}),
                    );
                } else {
                    eprintln!("{}", d.message);
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Health(a) => match client.call(&Request::Health(HealthQuery {})).await? {
            Response::Health(h) => {
                if a.json {
                    print_json(&h);
                } else {
                    println!(
                        "smithd {} (pid {}) up {}",
                        h.version,
                        h.pid,
                        render::human_secs(h.uptime_secs)
                    );
                    for w in &h.warnings {
                        println!("warning: {w}");
                    }
                    if let Some(line) = render::cluster_line(&h.cluster) {
                        print!("{line}");
                    }
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Shutdown(a) => match client.call(&Request::Shutdown(ShutdownRequest {})).await? {
            Response::Done(d) => {
                if a.json {
                    print_json(&serde_json::json!({"message": d.message}));
                } else {
                    eprintln!("{}", d.message);
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Prune(a) => match client.call(&Request::Prune(PruneRequest {})).await? {
            Response::Pruned(r) => {
                if a.json {
                    print_json(&r);
                } else {
                    println!(
                        "pruned {} requests; {} KiB given back",
                        r.requests,
                        r.bytes_freed / 1024
                    );
                }
                Ok(EXIT_OK)
            }
            other => Err(unexpected(other)),
        },
        Command::Diff(a) => workspaces::diff(client, a).await.map(|()| EXIT_OK),
        Command::Apply(a) => workspaces::apply(client, a, false)
            .await
            .map(exit_for_apply),
        Command::Discard(a) => workspaces::apply(client, a, true).await.map(exit_for_apply),
        Command::Workspaces(a) => workspaces::list(client, a).await.map(|()| EXIT_OK),
        Command::Usage(a) => usage::usage(client, a).await.map(|()| EXIT_OK),
        Command::Approvals(a) => approvals::list(client, a).await.map(|()| EXIT_OK),
        Command::Approve(a) => {
            let (request, json) = approvals::approve_request(a);
            approvals::decide(client, request, json)
                .await
                .map(|()| EXIT_OK)
        }
        Command::Deny(a) => {
            let (request, json) = approvals::deny_request(a);
            approvals::decide(client, request, json)
                .await
                .map(|()| EXIT_OK)
        }
        Command::Logs(a) => live::logs(client, a).await,
        Command::Completions { .. } | Command::Repl(_) => {
            unreachable!("handled before the socket is known")
        }
    }
}

async fn ask(
    client: &mut Client,
    socket: &std::path::Path,
    args: AskArgs,
) -> Result<u8, ClientError> {
    let cwd = match args.cwd {
        Some(dir) => std::path::absolute(&dir).unwrap_or(dir),
        None => std::env::current_dir().map_err(|e| {
            ClientError::Protocol(format!("cannot read the current directory: {e}"))
        })?,
    };
    let (prompt, tasks) = args.inputs.unwrap_or_default();
    let spec = AskSpec {
        session: args.session,
        prompt,
        tasks,
        plan: args.plan,
        synthesize: args.synthesize,
        strategy: args.strategy,
        restart: args.restart,
        max_restarts: args.max_restarts,
        within: args.within,
        timeout: args.timeout,
        budget_usd: args.budget,
        cwd,
        model: args.model,
        isolate: args.isolate,
        bare: args.bare.then_some(true),
    };
    client
        .send(&Request::Ask(Ask {
            spec,
            detach: args.detach,
        }))
        .await?;
    follow(client, socket, args.json, args.follow).await
}
