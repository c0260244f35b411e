//! Tool calls waiting for a person, on the client side: `smith approvals [--watch]`,
//! `smith approve`, `smith deny`, how an approval and a decision read, and the inline prompt of
//! `smith ask` on a terminal (allow once / always for the session / deny with a message).

use std::io::Write;
use std::path::Path;

use crate::protocol::{
    ApprovalEvent, ApprovalInfo, ApprovalsQuery, DecideRequest, DecidedBy, Event, Request,
    Response, ToolDecision, Verdict,
};

use super::args::{ApprovalsArgs, ApproveArgs, DenyArgs};
use super::client::{Client, ClientError, unexpected};
use super::render::{human_secs, now_ms, print_json};

/// How a waiting approval reads: who asks, for what (whole), what the CLI suggested, how to
/// decide it and when it is denied if nobody does.
pub fn waiting_block(a: &ApprovalInfo) -> String {
    let left = (a.expires_at_ms - now_ms()).max(0) as f64 / 1000.0;
    let mut out = format!(
        "approval {} · {} {} (attempt {}) of session {} wants to use {}:\n    {}\n",
        a.id, a.request_id, a.task_id, a.attempt, a.session, a.tool, a.summary
    );
    if a.input.lines().count() > 1 || a.input.len() > a.summary.len() + 40 {
        out.push_str("  input:\n");
        for line in a.input.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    if let Some(s) = &a.suggestions {
        out.push_str(&format!(
            "  the CLI suggests (shown only, never saved): {s}\n"
        ));
    }
    out.push_str(&format!(
        "  decide: smith approve {id} [--always] · smith deny {id} [--message TEXT] · denied in {} if nobody does\n",
        human_secs(left),
        id = a.id
    ));
    out
}

/// How a decision reads, on one line.
pub fn decision_line(d: &ToolDecision) -> String {
    let what = match (d.verdict, d.always) {
        (Verdict::Allow, true) => "allowed for the session",
        (Verdict::Allow, false) => "allowed",
        (Verdict::Deny, _) => "denied",
    };
    let by = match d.decided_by {
        DecidedBy::Rule => format!("by {}", d.who),
        DecidedBy::Remembered => "(allowed for the session earlier)".to_string(),
        DecidedBy::Person => format!("by {}", d.who),
        DecidedBy::Timeout => "(nobody answered)".into(),
        DecidedBy::Unattended => "(nobody attached)".into(),
        DecidedBy::Withdrawn => "(withdrawn)".into(),
        DecidedBy::Restart => "(smithd restarted)".into(),
    };
    let waited = if d.waited_ms > 0 {
        format!(" after {}", human_secs(d.waited_ms as f64 / 1000.0))
    } else {
        String::new()
    };
    let message = d
        .message
        .as_ref()
        .filter(|_| d.decided_by != DecidedBy::Rule)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!(
        "{} {} {} {} {what} {by}{waited}{message}",
        d.id, d.task_id, d.tool, d.summary
    )
}

/// `smith approvals [--watch]`.
pub async fn list(client: &mut Client, args: ApprovalsArgs) -> Result<(), ClientError> {
    let query = Request::Approvals(ApprovalsQuery { watch: args.watch });
    client.send(&query).await?;
    let pending = match client.recv().await? {
        Response::Approvals(list) => list.pending,
        other => return Err(unexpected(other)),
    };
    if args.json && !args.watch {
        print_json(&pending);
        return Ok(());
    }
    let event = |e: &ApprovalEvent| {
        if args.json {
            println!("{}", serde_json::to_string(e).expect("an event serializes"));
        } else {
            match e {
                ApprovalEvent::Waiting(a) => print!("{}", waiting_block(a)),
                ApprovalEvent::Decided(d) => println!("{}", decision_line(d)),
            }
        }
        let _ = std::io::stdout().flush();
    };
    if pending.is_empty() && !args.json {
        println!("no tool call waits for a person");
    }
    for a in pending {
        event(&ApprovalEvent::Waiting(a));
    }
    if !args.watch {
        return Ok(());
    }
    loop {
        match client.recv().await? {
            Response::Event(Event::Approval(e)) => event(&e),
            other => return Err(unexpected(other)),
        }
    }
}

/// `smith approve` / `smith deny`.
pub async fn decide(
    client: &mut Client,
    request: DecideRequest,
    json: bool,
) -> Result<(), ClientError> {
    match client.call(&Request::Decide(request)).await? {
        Response::Decided(d) => {
            if json {
                print_json(&d);
            } else {
                println!("{}", decision_line(&d));
            }
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

/// `smith approve ID [--always]` as a request.
pub fn approve_request(a: ApproveArgs) -> (DecideRequest, bool) {
    let request = DecideRequest {
        id: a.id,
        verdict: Verdict::Allow,
        always: a.always,
        message: None,
        by: user_name(),
    };
    (request, a.json)
}

/// `smith deny ID [--message TEXT]` as a request.
pub fn deny_request(a: DenyArgs) -> (DecideRequest, bool) {
    let request = DecideRequest {
        id: a.id,
        verdict: Verdict::Deny,
        always: false,
        message: a.message,
        by: user_name(),
    };
    (request, a.json)
}

pub(super) fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default()
}

/// Sends a decision over a connection of its own (the followed one streams events).
pub async fn send_decision(
    socket: &Path,
    request: DecideRequest,
) -> Result<ToolDecision, ClientError> {
    let mut client = Client::connect(socket, None).await?;
    match client.call(&Request::Decide(request)).await? {
        Response::Decided(d) => Ok(d),
        other => Err(unexpected(other)),
    }
}
