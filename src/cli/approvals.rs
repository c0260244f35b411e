//! Tool calls waiting for a person, on the client side: `smith approvals [--watch]`,
//! `smith approve`, `smith deny`, how an approval and a decision read, and the inline prompt of
//! `smith ask` on a terminal (allow once / always for the session / deny with a message).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use tokio::sync::mpsc;

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
        (Verdict::Allow, true) => "allowed for the session".to_string(),
        (v, _) => match v {
            Verdict::Allow => "allowed".to_string(),
            Verdict::Deny => "denied".to_string(),
        },
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

fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default()
}

/// The inline prompt of `smith ask` on a terminal: approvals of the request are asked one at a
/// time; a line typed on the terminal decides the one shown.
pub struct Prompter {
    lines: Option<mpsc::UnboundedReceiver<String>>,
    queue: Vec<ApprovalInfo>,
    /// The one shown, and whether its deny message is being typed.
    asking: Option<(ApprovalInfo, bool)>,
}

impl Prompter {
    /// A prompter; it asks only when stdin and stderr are terminals (otherwise approvals are
    /// shown with the commands that decide them).
    pub fn new(json: bool) -> Self {
        let interactive =
            !json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        Self {
            lines: interactive.then(spawn_stdin_lines),
            queue: Vec::new(),
            asking: None,
        }
    }

    /// Whether a prompt is open (the live lines stay still meanwhile).
    pub fn prompting(&self) -> bool {
        self.asking.is_some()
    }

    /// An approval event of the followed request; what to print above the live lines.
    pub fn event(&mut self, event: &ApprovalEvent) -> String {
        match event {
            ApprovalEvent::Waiting(a) => {
                let known = self.queue.iter().any(|q| q.id == a.id)
                    || self.asking.as_ref().is_some_and(|(q, _)| q.id == a.id);
                if known {
                    return String::new();
                }
                if self.lines.is_none() {
                    return waiting_block(a);
                }
                self.queue.push(a.clone());
                self.show_next()
            }
            ApprovalEvent::Decided(d) => {
                self.queue.retain(|q| q.id != d.id);
                let mut out = format!("{}\n", decision_line(d));
                if self.asking.as_ref().is_some_and(|(q, _)| q.id == d.id) {
                    self.asking = None;
                    out.push_str(&self.show_next());
                }
                out
            }
        }
    }

    fn show_next(&mut self) -> String {
        if self.asking.is_some() || self.queue.is_empty() {
            return String::new();
        }
        let a = self.queue.remove(0);
        let text = format!(
            "{}  allow once [y] · allow for the session [a] · deny [n] ? ",
            waiting_block(&a)
        );
        self.asking = Some((a, false));
        text
    }

    /// The next line typed (pending forever when not interactive).
    pub async fn next_line(&mut self) -> Option<String> {
        match &mut self.lines {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// A typed line: the decision to send and the next prompt, or a question again.
    pub fn answer(&mut self, line: &str) -> (Option<DecideRequest>, String) {
        let Some((a, typing_message)) = self.asking.take() else {
            return (None, String::new());
        };
        let line = line.trim();
        let decide = |verdict, always, message: Option<String>| DecideRequest {
            id: a.id.clone(),
            verdict,
            always,
            message,
            by: user_name(),
        };
        if typing_message {
            let message = (!line.is_empty()).then(|| line.to_string());
            return (
                Some(decide(Verdict::Deny, false, message)),
                self.show_next(),
            );
        }
        match line {
            "y" | "Y" | "yes" => (Some(decide(Verdict::Allow, false, None)), self.show_next()),
            "a" | "A" | "always" => (Some(decide(Verdict::Allow, true, None)), self.show_next()),
            "n" | "N" | "no" => {
                self.asking = Some((a, true));
                (None, "  message for the worker (empty: none): ".into())
            }
            _ => {
                self.asking = Some((a, false));
                (
                    None,
                    "  y (allow once), a (allow for the session) or n (deny)? ".into(),
                )
            }
        }
    }
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

/// Lines typed on stdin, read by a thread of their own (a blocking read never holds the
/// event loop; the thread ends with the process).
fn spawn_stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> ApprovalInfo {
        ApprovalInfo {
            id: id.into(),
            session: "main".into(),
            request_id: "r-1".into(),
            task_id: "t2".into(),
            attempt: 1,
            tool: "Bash".into(),
            summary: "touch x".into(),
            input: "{\n  \"command\": \"touch x\"\n}".into(),
            suggestions: None,
            asked_at_ms: 0,
            expires_at_ms: i64::MAX,
        }
    }

    fn interactive() -> Prompter {
        Prompter {
            lines: Some(mpsc::unbounded_channel().1),
            queue: Vec::new(),
            asking: None,
        }
    }

    #[test]
    fn one_approval_is_asked_at_a_time_and_each_answer_decides_it() {
        let mut p = interactive();
        let shown = p.event(&ApprovalEvent::Waiting(info("a-1")));
        assert!(
            shown.contains("touch x") && shown.contains("[y]"),
            "{shown}"
        );
        assert_eq!(p.event(&ApprovalEvent::Waiting(info("a-2"))), "", "queued");
        assert_eq!(
            p.event(&ApprovalEvent::Waiting(info("a-1"))),
            "",
            "a repeat"
        );
        let (d, next) = p.answer("a");
        let d = d.unwrap();
        assert_eq!(
            (d.id.as_str(), d.verdict, d.always),
            ("a-1", Verdict::Allow, true)
        );
        // The next one is shown at once; the decision is reported when smithd confirms it.
        assert!(next.contains("a-2"), "{next}");
        let decided = ToolDecision {
            id: "a-1".into(),
            task_id: "t2".into(),
            attempt: 1,
            tool: "Bash".into(),
            summary: "touch x".into(),
            verdict: Verdict::Allow,
            decided_by: DecidedBy::Person,
            who: "me".into(),
            message: None,
            always: true,
            waited_ms: 10,
        };
        let line = p.event(&ApprovalEvent::Decided(decided));
        assert!(line.contains("allowed for the session"), "{line}");
        assert!(p.prompting(), "a-2 is still asked");
        let (d, again) = p.answer("what");
        assert!(d.is_none() && again.contains("y (allow once)"));
        let (d, ask_message) = p.answer("n");
        assert!(d.is_none() && ask_message.contains("message"));
        let (d, _) = p.answer("  not here ");
        let d = d.unwrap();
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.message.as_deref(), Some("not here"));
    }

    #[test]
    fn without_a_terminal_an_approval_is_shown_with_its_commands() {
        let mut p = Prompter {
            lines: None,
            queue: Vec::new(),
            asking: None,
        };
        let shown = p.event(&ApprovalEvent::Waiting(info("a-9")));
        assert!(shown.contains("smith approve a-9"), "{shown}");
        assert!(shown.contains("\"command\""), "the whole input: {shown}");
        assert!(!p.prompting());
    }
}
