//! Following a request to its end — `smith ask`, `resume` and `watch`: its events to the live
//! view (or plain lines), its tool calls that wait for a person asked on the terminal, its
//! summary and answer at the end.

use std::io::IsTerminal;
use std::time::Duration;

use crate::protocol::{Event, RequestSummary, Response};

use super::client::{Client, ClientError, unexpected};
use super::progress::Progress;
use super::render::print_json;
use super::{EXIT_OK, approvals, exit_for, prompt, workspaces};

/// Follows a request to its end (or prints its id when it was detached). Its tool calls that
/// wait for a person are asked on the terminal (or shown with the commands that decide them).
pub(super) async fn follow(
    client: &mut Client,
    socket: &std::path::Path,
    json: bool,
    followed: Option<String>,
) -> Result<u8, ClientError> {
    let mut progress = Progress::new(!json && std::io::stderr().is_terminal(), followed);
    let mut prompter = prompt::Prompter::new(json);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let response = tokio::select! {
            r = client.recv() => r?,
            _ = tick.tick() => { progress.redraw(); continue; }
            Some(line) = prompter.next_line() => {
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
