//! The command line of `smith`. These doc comments are its help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::protocol::{Isolation, Restart, Strategy, UsageBy};

/// Control smithd: send requests to Claude Code workers supervised like Erlang/OTP processes,
/// watch them, and look at what they did.
///
/// Exit codes: 0 succeeded, 2 degraded, 1 failed / cancelled / interrupted / error,
/// 3 smithd cannot be reached, 64 bad usage.
#[derive(Parser, Debug)]
#[command(name = "smith", version, propagate_version = true)]
pub struct Cli {
    /// The control socket of smithd (default: service.socket of the config, else
    /// $XDG_RUNTIME_DIR/smith/smithd.sock).
    #[arg(long, global = true, env = "SMITH_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// What to do (none, on a terminal: the REPL).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The main REPL session for a person: each line an ask in the session with the live view
    /// below it, slash commands for the rest (/help); also `smith` alone on a terminal. Over a
    /// pipe: one ask per line, plain output.
    Repl(ReplArgs),
    /// Ask a session something; fan it out to tasks; print the merged answer.
    Ask(Box<AskArgs>),
    /// The live supervision tree: sessions, running requests, tasks with pids and restarts.
    Status(JsonArg),
    /// List the sessions.
    Sessions(JsonArg),
    /// A session's requests, oldest first, one page at a time (the newest 50 by default).
    History(HistoryArgs),
    /// One request: tasks, attempts, exit reasons, outputs, answer (long texts clipped and
    /// marked unless --full).
    Show(ShowArgs),
    /// Cancel a queued or running request (its processes are stopped).
    Cancel(IdArgs),
    /// Continue an interrupted request: finished tasks are kept, the others run again.
    Resume(ResumeArgs),
    /// Is smithd there? Prints its version and uptime.
    Health(JsonArg),
    /// Stop smithd gracefully (running requests get service.shutdown_grace to finish).
    Shutdown(JsonArg),
    /// Apply the retention now (store.retention_age, store.retention_requests): delete finished
    /// requests it does not keep and give the database's freed space back.
    Prune(JsonArg),
    /// What an isolated request's tasks changed: a unified diff per task (base → branch).
    Diff(DiffArgs),
    /// Merge isolated tasks' branches into the checkout's current branch, in task order (without
    /// TASK: the tasks that succeeded). Each merge is checked first; a conflict stops with
    /// nothing half-applied, names the files and keeps that branch. Merged worktrees and
    /// branches are removed.
    Apply(WorkspaceOpArgs),
    /// Remove isolated tasks' worktrees and branches (without TASK: all of the request's).
    Discard(WorkspaceOpArgs),
    /// The task worktrees smith keeps: request, task, branch, size, age, state.
    Workspaces(JsonArg),
    /// What the workers cost: cost, tokens (input with cache reads and writes, output), requests
    /// and attempts, by day (limits.budget_time_zone), session or model, with the total.
    Usage(UsageArgs),
    /// Follow a running request from another terminal, with the same live view as `ask`
    /// (default: the session's running request, else its next queued one).
    Watch(WatchArgs),
    /// A task's transcript: assistant text, tool calls and results, errors (--raw: the
    /// stream-json lines as the worker printed them).
    Logs(LogsArgs),
    /// Workers' tool calls waiting for a person's decision, in every session
    /// (permissions.mode = "stdio"); --watch follows them as they come and go.
    Approvals(ApprovalsArgs),
    /// Allow a waiting tool call (once, or with --always for the rest of its session: the same
    /// tool with exactly the same input is not asked again).
    Approve(ApproveArgs),
    /// Refuse a waiting tool call; the worker gets the message as the tool's result.
    Deny(DenyArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: Shell,
    },
}

/// `--json`.
#[derive(Args, Debug, Default)]
pub struct JsonArg {
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `smith ask`.
#[derive(Args, Debug)]
pub struct AskArgs {
    /// What to ask (with --task, the overall request; may be omitted). `-` reads it from stdin,
    /// as does no prompt at all when stdin is not a terminal: `cat spec.md | smith ask`.
    pub prompt: Option<String>,
    /// The session (created on first use).
    #[arg(long, short, default_value = "main")]
    pub session: String,
    /// A task, run by its own worker (repeat for a fan-out; order is kept in the answer).
    #[arg(long = "task", short = 't', value_name = "TEXT")]
    pub tasks: Vec<String>,
    /// Tasks from a file (`-`: stdin), after any --task: one per non-empty line, or a JSON/YAML
    /// list of strings or of {name, instruction}.
    #[arg(long, value_name = "FILE")]
    pub tasks_file: Option<PathBuf>,
    /// The prompt and tasks once read (stdin and files are read before connecting).
    #[arg(skip)]
    pub inputs: Option<(String, Vec<crate::protocol::TaskInput>)>,
    /// Let a planner worker split the request into tasks.
    #[arg(long, conflicts_with_all = ["tasks", "tasks_file"])]
    pub plan: bool,
    /// Let one more worker write the answer from all results.
    #[arg(long)]
    pub synthesize: bool,
    /// Restart strategy: one_for_one, one_for_all or rest_for_one.
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// Restart type of tasks: transient (restart after a failure) or temporary (never).
    #[arg(long)]
    pub restart: Option<Restart>,
    /// At most this many restarts ...
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
    /// ... within this period (e.g. 60s, 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub within: Option<Duration>,
    /// Wall-clock limit of each attempt (e.g. 10m).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub timeout: Option<Duration>,
    /// Budget of the request in USD.
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// Working directory of the workers (default: this directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Model of the workers.
    #[arg(long)]
    pub model: Option<String>,
    /// Where work tasks run: `worktree` (each in a git worktree of its own, on branch
    /// smith/<request>/<task>; review with `smith diff`, merge with `smith apply`) or `none`
    /// (all in the working directory). Default: agent.isolation of smithd's config.
    #[arg(long, value_name = "MODE")]
    pub isolate: Option<Isolation>,
    /// Run the workers with the CLI's --bare: no hooks, CLAUDE.md, MCP discovery, plugins or
    /// auto-memory — cheaper turns, but workers do not see the project's CLAUDE.md (API-key auth
    /// only). Default: agent.bare.
    #[arg(long)]
    pub bare: bool,
    /// Show this task's text as its worker writes it (`t2`, or its name).
    #[arg(long, value_name = "TASK")]
    pub follow: Option<String>,
    /// Return as soon as the request is accepted; print its id.
    #[arg(long)]
    pub detach: bool,
    /// Print one JSON object: request_id, session, status, answer, cost_usd, tasks.
    #[arg(long)]
    pub json: bool,
}

/// `smith repl`.
#[derive(Args, Debug)]
pub struct ReplArgs {
    /// The session the entries ask (`/session NAME` switches).
    #[arg(long, short, default_value = "main")]
    pub session: String,
    /// The line editor's history (default: $XDG_STATE_HOME/smith/repl_history, else
    /// ~/.local/state/smith/repl_history).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

impl Default for ReplArgs {
    fn default() -> Self {
        Self {
            session: "main".into(),
            history: None,
        }
    }
}

/// `smith watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The request (default: the session's running one).
    pub request_id: Option<String>,
    /// The session whose running request is watched.
    #[arg(long, short, default_value = "main")]
    pub session: String,
    /// Show this task's text as its worker writes it (`t2`, or its name).
    #[arg(long, value_name = "TASK")]
    pub follow: Option<String>,
    /// Print the request's summary as JSON when it ends.
    #[arg(long)]
    pub json: bool,
}

/// `smith logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The request.
    pub request_id: String,
    /// The task (`t1`, `plan`, `synthesize`, or its name).
    pub task: String,
    /// The attempt (default: the last).
    #[arg(long, value_name = "N")]
    pub attempt: Option<u32>,
    /// The stream-json lines as the worker printed them (partial-message lines left out).
    #[arg(long)]
    pub raw: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The session.
    pub session: String,
    /// Only requests before this position (#) in the session: the page before.
    #[arg(long, value_name = "SEQ")]
    pub before: Option<i64>,
    /// Requests per page (default 50, at most 500).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u32,
    /// Print JSON (the page's requests as an array).
    #[arg(long)]
    pub json: bool,
}

/// `smith show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The request id (as printed by `smith ask` or `smith history`).
    pub request_id: String,
    /// Every text whole (prompt, instructions, outputs, answer), however long.
    #[arg(long)]
    pub full: bool,
    /// List the workers' tool calls: tool, input, duration, error.
    #[arg(long)]
    pub tools: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A request id.
#[derive(Args, Debug)]
pub struct IdArgs {
    /// The request id (as printed by `smith ask` or `smith history`).
    pub request_id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith usage`.
#[derive(Args, Debug)]
pub struct UsageArgs {
    /// Group by: day, session or model (default: day).
    #[arg(long, value_parser = |s: &str| s.parse::<UsageBy>())]
    pub by: Option<UsageBy>,
    /// Only from this day on (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DAY")]
    pub since: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith approvals`.
#[derive(Args, Debug)]
pub struct ApprovalsArgs {
    /// Follow: print each approval as it starts and stops waiting, until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Print JSON (with --watch: one document per line).
    #[arg(long)]
    pub json: bool,
}

/// `smith approve`.
#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The approval id (`a-…`, as `smith approvals` or the prompt shows it).
    pub id: String,
    /// Allow the same tool with exactly the same input for the rest of the session.
    #[arg(long)]
    pub always: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith deny`.
#[derive(Args, Debug)]
pub struct DenyArgs {
    /// The approval id.
    pub id: String,
    /// What the worker is told (default: who denied it).
    #[arg(long, short)]
    pub message: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The request id.
    pub request_id: String,
    /// One task (t1, t2, …); all of the request's without it.
    pub task: Option<String>,
    /// Only the changed files with lines added and removed.
    #[arg(long)]
    pub stat: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith apply` and `smith discard`.
#[derive(Args, Debug)]
pub struct WorkspaceOpArgs {
    /// The request id.
    pub request_id: String,
    /// Tasks (t1, t2, …), in this order.
    pub tasks: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `smith resume`.
#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The interrupted request.
    pub request_id: String,
    /// Return as soon as it is accepted.
    #[arg(long)]
    pub detach: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration like 30s or 5m: {e}"))
}
