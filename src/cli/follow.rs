//! Following a request to its end — `smith ask`, `resume` and `watch`: its events to the live
//! view (or plain lines), its tool calls that wait for a person asked on the terminal, its
//! summary and answer at the end.

use std::io::IsTerminal;
use std::time::Duration;

use crate::protocol::{CancelRequest, Event, Request, RequestSummary, Response};

use tokio::signal::unix::Signal;

use super::client::{Client, ClientError, unexpected};
use super::input::Input;
use super::progress::Progress;
use super::render::print_json;
use super::{EXIT_OK, approvals, exit_for, prompt, workspaces};

/// How a request is followed.
pub(super) struct Following<'a> {
    /// Print the summary as JSON (no live view, no prompt).
    pub json: bool,
    /// The task whose text is shown (`--follow`).
    pub task: Option<String>,
    /// The REPL's input (else `smith ask` reads the terminal itself).
    pub input: Option<&'a mut Input>,
    /// Ctrl-C (the REPL's): asks whether to cancel the request.
    pub interrupts: Option<&'a mut Signal>,
}

/// Follows a request to its end (or prints its id when it was detached). Its tool calls that
/// wait for a person are asked on the terminal (or shown with the commands that decide them).
pub(super) async fn follow(
    client: &mut Client,
    socket: &std::path::Path,
    json: bool,
    task: Option<String>,
) -> Result<u8, ClientError> {
    let how = Following {
        json,
        task,
        input: None,
        interrupts: None,
    };
    follow_with(client, socket, how).await
}

/// [`follow`], as `how` says.
pub(super) async fn follow_with(
    client: &mut Client,
    socket: &std::path::Path,
    how: Following<'_>,
) -> Result<u8, ClientError> {
    let Following {
        json,
        task,
        input,
        mut interrupts,
    } = how;
    let live = !json && std::io::stderr().is_terminal();
    let mut progress = Progress::new(live, task);
    let mut prompter = match input {
        Some(input) => prompt::Prompter::on_demand(input),
        None => prompt::Prompter::new(json),
    };
    let mut request_id: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let response = tokio::select! {
            r = client.recv() => r?,
            _ = tick.tick() => { progress.redraw(); continue; }
            Some(()) = interrupted(&mut interrupts) => {
                let question = request_id.as_deref().and_then(|id| prompter.confirm_cancel(id));
                if let Some(q) = question {
                    progress.note(&q, true);
                }
                continue;
            }
            line = prompter.next_line() => {
                if let Some(yes) = prompter.cancel_answer(&line) {
                    progress.note("", false);
                    if let (true, Some(id)) = (yes, &request_id) {
                        let done = cancel_request(socket, id).await;
                        let said = match done {
                            Ok(message) => format!("{message}\n"),
                            Err(e) => format!("smith: {e}\n"),
                        };
                        progress.note(&said, false);
                    }
                    continue;
                }
                let (decision, again) = prompter.answer(&line);
                progress.note(&again, prompter.prompting());
                if let Some(request) = decision
                    && let Err(e) = approvals::send_decision(socket, request).await
                {
                    progress.note(&format!("smith: {e}\n"), false);
                }
                continue;
            }
        };
        match response {
            Response::Event(Event::Approval(event)) => {
                let text = prompter.event(&event);
                progress.note(&text, prompter.prompting());
            }
            Response::Event(event) => {
                if let Event::Accepted { request_id: id, .. } = &event {
                    request_id = Some(id.clone());
                }
                if !json {
                    progress.event(&event);
                } else if let Event::Accepted {
                    worktrees: Some(base),
                    ..
                } = &event
                {
                    // Said on stderr in JSON mode too: the JSON document is the summary.
                    eprintln!("{}", workspaces::accepted_note(base));
                }
            }
            Response::Finished(summary) => return Ok(finish(&mut progress, &summary, json)),
            Response::Accepted(a) => {
                if json {
                    print_json(
                        &serde_json::json!({"request_id": a.request_id, "status": "queued", "worktrees": a.worktrees}),
                    );
                } else {
                    if let Some(base) = &a.worktrees {
                        eprintln!("{}", workspaces::accepted_note(base));
                    }
                    println!("{}", a.request_id);
                }
                return Ok(EXIT_OK);
            }
            other => return Err(unexpected(other)),
        }
    }
}

fn finish(progress: &mut Progress, summary: &RequestSummary, json: bool) -> u8 {
    if json {
        print_json(summary);
    } else {
        progress.finish(summary);
        if !summary.answer.is_empty() {
            // On a terminal the workers' text cannot move the cursor or retitle the window; a
            // pipe gets it as written.
            let answer = summary.answer.trim_end();
            if std::io::stdout().is_terminal() {
                println!("{}", crate::sanitize::lines(answer));
            } else {
                println!("{answer}");
            }
        }
    }
    exit_for(summary.status)
}

/// The next Ctrl-C (never, without a signal stream).
async fn interrupted(signal: &mut Option<&mut Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Cancels `request_id` over a connection of its own (the followed one carries its events).
async fn cancel_request(socket: &std::path::Path, request_id: &str) -> Result<String, ClientError> {
    let mut client = Client::connect(socket, None).await?;
    let cancel = Request::Cancel(CancelRequest {
        request_id: request_id.to_string(),
    });
    match client.call(&cancel).await? {
        Response::Done(d) => Ok(d.message),
        other => Err(unexpected(other)),
    }
}
