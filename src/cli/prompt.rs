//! The inline prompt of `smith ask` (and of `smith repl`) on a terminal: the followed request's
//! tool calls that wait for a person are asked one at a time (allow once / always for the
//! session / deny with a message); a call decided elsewhere meanwhile is reported and the next
//! one asked. In the REPL it also asks whether Ctrl-C should cancel the running request.

use std::io::{BufRead, IsTerminal};

use tokio::sync::mpsc;

use crate::protocol::{ApprovalEvent, ApprovalInfo, DecideRequest, Verdict};

use super::approvals::{decision_line, user_name, waiting_block};
use super::input::{Input, Typed};

/// Where the answers come from.
enum Lines<'a> {
    /// Nowhere: approvals are shown with the commands that decide them.
    Off,
    /// Every line typed, read by a thread of its own (`smith ask`).
    Stream(mpsc::UnboundedReceiver<String>),
    /// The REPL's input, read only while a question is open.
    OnDemand(&'a mut Input),
}

/// The inline prompt on a terminal: approvals of the request are asked one at a time; a line
/// typed on the terminal decides the one shown.
pub struct Prompter<'a> {
    lines: Lines<'a>,
    queue: Vec<ApprovalInfo>,
    /// The one shown, and whether its deny message is being typed.
    asking: Option<(ApprovalInfo, bool)>,
    /// "Cancel the request?" is open.
    confirming: bool,
}

impl<'a> Prompter<'a> {
    /// A prompter; it asks only when stdin and stderr are terminals (otherwise approvals are
    /// shown with the commands that decide them).
    pub fn new(json: bool) -> Self {
        let interactive =
            !json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        Self::with_lines(if interactive {
            Lines::Stream(spawn_stdin_lines())
        } else {
            Lines::Off
        })
    }

    /// A prompter reading the REPL's input (only while a question is open).
    pub fn on_demand(input: &'a mut Input) -> Self {
        Self::with_lines(Lines::OnDemand(input))
    }

    fn with_lines(lines: Lines<'a>) -> Self {
        Self {
            lines,
            queue: Vec::new(),
            asking: None,
            confirming: false,
        }
    }

    /// Whether a prompt is open (the live lines stay still meanwhile).
    pub fn prompting(&self) -> bool {
        self.asking.is_some() || self.confirming
    }

    /// Ctrl-C while `request_id` runs: the question to show (`None`: nobody can answer it).
    pub fn confirm_cancel(&mut self, request_id: &str) -> Option<String> {
        if matches!(self.lines, Lines::Off) {
            return None;
        }
        self.confirming = true;
        Some(format!("\ncancel {request_id}? [y/N] "))
    }

    /// The answer to "cancel?", when that question is open: whether to cancel.
    pub fn cancel_answer(&mut self, line: &str) -> Option<bool> {
        std::mem::take(&mut self.confirming).then(|| matches!(line.trim(), "y" | "Y" | "yes"))
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
                if matches!(self.lines, Lines::Off) {
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

    /// The next line typed (pending forever when not interactive; in the REPL, while no
    /// question is open). At the end of the input nothing more is read.
    pub async fn next_line(&mut self) -> String {
        let open = self.prompting();
        let line = match &mut self.lines {
            Lines::Stream(rx) => rx.recv().await,
            Lines::OnDemand(input) if open => match input.plain().await {
                Typed::Line(line) => Some(line),
                Typed::Interrupted | Typed::Eof => None,
            },
            Lines::OnDemand(_) | Lines::Off => std::future::pending().await,
        };
        match line {
            Some(line) => line,
            None => {
                self.lines = Lines::Off;
                std::future::pending().await
            }
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
    use crate::protocol::{DecidedBy, ToolDecision};

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

    fn interactive() -> Prompter<'static> {
        Prompter::with_lines(Lines::Stream(mpsc::unbounded_channel().1))
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
            lines: Lines::Off,
            confirming: false,
            queue: Vec::new(),
            asking: None,
        };
        let shown = p.event(&ApprovalEvent::Waiting(info("a-9")));
        assert!(shown.contains("smith approve a-9"), "{shown}");
        assert!(shown.contains("\"command\""), "the whole input: {shown}");
        assert!(!p.prompting());
    }
}
