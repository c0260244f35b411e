//! `smith repl` (and `smith` alone on a terminal): the main REPL session for a person. Each
//! entry is an ask in the session, followed with the live view below it; tool calls that wait
//! for a person are asked inline; Ctrl-C cancels the running request (after a confirmation),
//! Ctrl-D leaves. Slash commands set what the next ask is (`/tasks`, `/plan`, `/strategy`, …) or
//! run the CLI's own commands through the same client code (`/status`, `/show`, `/approve`, …).
//! Over a pipe: no line editor, one ask per line, plain output — scriptable.

use std::path::{Path, PathBuf};

use clap::Parser;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::protocol::{Ask, AskSpec, HealthQuery, Isolation, Request, Response, Strategy};

use super::args::ReplArgs;
use super::client::{Client, ClientError};
use super::follow::{Following, follow_with};
use super::input::{Input, Typed};
use super::repl_line::{Entry, continued, entry};
use super::{Cli, EXIT_OK, EXIT_UNREACHABLE, dispatch, trace};

const HELP: &str = "\
An entry is an ask in the session (end a line with \\ to go on on the next). Ctrl-C cancels the
running request (after a confirmation), Ctrl-D leaves.
  /tasks                 the next ask's tasks, one per line, an empty line ends (/tasks clear)
  /plan, /synthesize     toggle: a planner splits the next asks / one more worker writes the answer
  /strategy NAME         one_for_one, one_for_all, rest_for_one (alone: smithd's default)
  /isolate MODE          worktree or none (alone: smithd's default)
  /follow TASK           show that task's text as it is written (alone: none)
  /session NAME          ask in another session
  /status  /history [--limit N]  /show ID [--tools] [--full]  /diff ID [TASK] [--stat]
  /apply ID [TASK…]  /discard ID  /cancel [ID]  /approvals  /approve ID [--always]
  /deny ID [--message TEXT]  /logs ID TASK  /usage  /workspaces  /sessions
                         the CLI's commands (smith help COMMAND)
  /help                  this (Tab completes a command's name)
";

/// What the next ask will be.
#[derive(Debug, Default)]
struct Settings {
    session: String,
    tasks: Vec<String>,
    plan: bool,
    synthesize: bool,
    strategy: Option<Strategy>,
    isolate: Option<Isolation>,
    follow: Option<String>,
}

impl Settings {
    /// The prompt: the session and what is set for the next ask.
    fn prompt(&self) -> String {
        let mut set = Vec::new();
        if !self.tasks.is_empty() {
            set.push(format!("{} task(s)", self.tasks.len()));
        }
        if self.plan {
            set.push("plan".into());
        }
        if self.synthesize {
            set.push("synthesize".into());
        }
        if let Some(s) = self.strategy {
            set.push(s.to_string());
        }
        if let Some(i) = self.isolate {
            set.push(format!("isolate {i}"));
        }
        if let Some(t) = &self.follow {
            set.push(format!("follow {t}"));
        }
        match set.is_empty() {
            true => format!("{}> ", self.session),
            false => format!("{} [{}]> ", self.session, set.join(", ")),
        }
    }
}

/// The REPL's history file: `$XDG_STATE_HOME/smith/repl_history`, else
/// `~/.local/state/smith/repl_history`.
pub fn default_history() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::settings::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("smith/repl_history")
}

/// Runs the REPL until Ctrl-D (or the end of its input); its exit code: 0, or the first failed
/// ask's.
pub async fn repl(socket: &Path, args: ReplArgs) -> u8 {
    let mut input = Input::start(Some(args.history.unwrap_or_else(default_history)));
    // From here Ctrl-C is the REPL's: it never kills the process.
    let mut interrupts = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smith: cannot take Ctrl-C: {e}");
            return super::EXIT_FAILED;
        }
    };
    match greet(socket).await {
        Ok(version) if input.terminal => eprintln!(
            "smith repl, session {} — smithd {version}. /help lists the commands; Ctrl-D leaves.",
            args.session
        ),
        Ok(_) => {}
        Err(e) => {
            eprintln!("smith: {e}");
            return EXIT_UNREACHABLE;
        }
    }
    let mut settings = Settings {
        session: args.session,
        ..Settings::default()
    };
    let mut failed: Option<u8> = None;
    loop {
        let text = match read_entry(&mut input, &settings.prompt()).await {
            Typed::Line(text) => text,
            Typed::Interrupted => continue,
            Typed::Eof => break,
        };
        let code = match entry(&text) {
            Ok(Entry::Empty) => continue,
            Ok(Entry::Ask(prompt)) => {
                ask(socket, &mut settings, prompt, &mut input, &mut interrupts).await
            }
            Ok(Entry::Command(name, words)) => {
                command(socket, &mut settings, &name, words, &mut input).await
            }
            Err(e) => {
                eprintln!("smith: {e}");
                continue;
            }
        };
        if code != EXIT_OK {
            failed.get_or_insert(code);
        }
    }
    failed.unwrap_or(EXIT_OK)
}

/// smithd's version, or why it cannot be reached.
async fn greet(socket: &Path) -> Result<String, ClientError> {
    let mut client = Client::connect(socket, None).await?;
    match client.call(&Request::Health(HealthQuery {})).await? {
        Response::Health(h) => Ok(h.version),
        other => Err(super::client::unexpected(other)),
    }
}

/// One entry: a line, and the next ones while a line ends with a backslash.
async fn read_entry(input: &mut Input, prompt: &str) -> Typed {
    let mut text = String::new();
    let mut prompt = prompt.to_string();
    loop {
        match input.edit(&prompt).await {
            Typed::Line(line) => match continued(&line) {
                Some(part) => {
                    text.push_str(part);
                    text.push('\n');
                    prompt = "… ".into();
                }
                None => {
                    text.push_str(&line);
                    return Typed::Line(text);
                }
            },
            other => return other,
        }
    }
}

/// An ask in the session, followed to its end with the live view.
async fn ask(
    socket: &Path,
    settings: &mut Settings,
    prompt: String,
    input: &mut Input,
    interrupts: &mut Signal,
) -> u8 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let spec = AskSpec {
        session: settings.session.clone(),
        prompt,
        tasks: std::mem::take(&mut settings.tasks)
            .into_iter()
            .map(Into::into)
            .collect(),
        plan: settings.plan,
        synthesize: settings.synthesize,
        strategy: settings.strategy,
        isolate: settings.isolate,
        cwd,
        ..AskSpec::default()
    };
    let trace = trace::ClientTrace::start("smith ask");
    let run = async {
        let mut client = Client::connect(socket, Some(trace.traceparent.clone())).await?;
        client
            .send(&Request::Ask(Ask {
                spec,
                detach: false,
            }))
            .await?;
        let how = Following {
            json: false,
            task: settings.follow.clone(),
            input: Some(input),
            interrupts: Some(interrupts),
        };
        follow_with(&mut client, socket, how).await
    };
    let result = run.await;
    trace.finish(matches!(result, Ok(EXIT_OK))).await;
    report(result)
}

fn report(result: Result<u8, ClientError>) -> u8 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smith: {e}");
            super::exit_for_error(&e)
        }
    }
}

/// A slash command.
async fn command(
    socket: &Path,
    settings: &mut Settings,
    name: &str,
    words: Vec<String>,
    input: &mut Input,
) -> u8 {
    let one = words.first().map(String::as_str);
    match (name, one) {
        ("help", _) => eprint!("{HELP}"),
        ("tasks", Some("clear")) => settings.tasks.clear(),
        ("tasks", _) => {
            if !words.is_empty() {
                settings.tasks.push(words.join(" "));
            } else {
                read_tasks(settings, input).await;
            }
        }
        ("plan", _) => settings.plan = toggle(settings.plan, one),
        ("synthesize", _) => settings.synthesize = toggle(settings.synthesize, one),
        ("strategy", None) => settings.strategy = None,
        ("strategy", Some(s)) => match s.parse() {
            Ok(s) => settings.strategy = Some(s),
            Err(e) => eprintln!("smith: {e}"),
        },
        ("isolate", None) => settings.isolate = None,
        ("isolate", Some(s)) => match s.parse() {
            Ok(i) => settings.isolate = Some(i),
            Err(e) => eprintln!("smith: {e}"),
        },
        ("follow", _) => settings.follow = one.map(str::to_string),
        ("session", Some(s)) => settings.session = s.to_string(),
        ("session", None) => eprintln!("session {}", settings.session),
        ("cancel", None) => return cancel_running(socket, &settings.session).await,
        ("history", _) => {
            let mut argv = vec!["history".to_string(), settings.session.clone()];
            argv.extend(words);
            return cli(socket, argv).await;
        }
        (
            "status" | "show" | "diff" | "apply" | "discard" | "cancel" | "approve" | "deny"
            | "approvals" | "logs" | "usage" | "workspaces" | "sessions",
            _,
        ) => {
            let mut argv = vec![name.to_string()];
            argv.extend(words);
            return cli(socket, argv).await;
        }
        _ => eprintln!("smith: no command /{name}: /help lists them"),
    }
    EXIT_OK
}

fn toggle(now: bool, word: Option<&str>) -> bool {
    match word {
        Some("on") => true,
        Some("off") => false,
        _ => !now,
    }
}

/// `/tasks`: one per line until an empty line.
async fn read_tasks(settings: &mut Settings, input: &mut Input) {
    loop {
        match input.edit("task> ").await {
            Typed::Line(line) if !line.trim().is_empty() => settings.tasks.push(line),
            _ => break,
        }
    }
}

/// One of the CLI's commands, parsed and run as `smith ARGV…` would.
async fn cli(socket: &Path, argv: Vec<String>) -> u8 {
    let parsed = Cli::try_parse_from(std::iter::once("smith".to_string()).chain(argv));
    match parsed {
        Ok(Cli {
            command: Some(command),
            ..
        }) => report(dispatch(socket, command).await),
        Ok(_) => EXIT_OK,
        Err(e) => {
            let _ = e.print();
            super::EXIT_USAGE
        }
    }
}

/// `/cancel`: the session's running request.
async fn cancel_running(socket: &Path, session: &str) -> u8 {
    let running = async {
        let mut client = Client::connect(socket, None).await?;
        match client
            .call(&Request::Status(crate::protocol::StatusQuery {}))
            .await?
        {
            Response::Status(s) => Ok(s
                .sessions
                .into_iter()
                .find(|x| x.name == session)
                .and_then(|x| x.current.map(|c| c.request_id))),
            other => Err(super::client::unexpected(other)),
        }
    };
    match running.await {
        Ok(Some(id)) => cli(socket, vec!["cancel".into(), id]).await,
        Ok(None) => {
            eprintln!("smith: session {session} has no request running");
            super::EXIT_FAILED
        }
        Err(e) => report(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_command_tab_completes() {
        for c in crate::cli::repl_line::COMMANDS {
            assert!(HELP.contains(&format!("/{c}")), "/{c} is not in /help");
        }
    }
}
