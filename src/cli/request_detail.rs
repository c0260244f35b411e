//! `smith show`: one request in full, as text — its tasks and their attempts, the answer; texts
//! the reply carries only in part are marked with the command that shows them whole.

use super::render::short;
use crate::protocol::{ClippedText, ShowReply, TextPart};

/// The mark of a text the reply carries only in part.
fn clip_mark(clipped: &[ClippedText], part: TextPart) -> String {
    match clipped.iter().find(|c| c.part == part) {
        Some(c) => format!(
            " […clipped; {} bytes in all: `smith show {} --full`]",
            c.total_bytes, c.request_id
        ),
        None => String::new(),
    }
}

/// One request; texts listed in its `clipped` are marked.
pub fn request_detail(d: &ShowReply) -> String {
    let clipped = &d.clipped;
    let r = &d.request;
    let mut out = format!(
        "request {}  session {} #{}\nstatus  {}{}\ncost    ${:.4}\nprompt  {}{}\n\ntasks:\n",
        r.id,
        r.session,
        r.seq,
        r.status,
        r.reason
            .as_ref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default(),
        r.cost_usd,
        r.prompt.trim(),
        clip_mark(clipped, TextPart::Prompt)
    );
    for t in &d.tasks {
        out.push_str(&format!(
            "  {} [{}] {}  {}  attempts {}  ${:.4}{}\n",
            t.id,
            t.kind,
            short(&t.name, 40),
            t.status,
            t.attempts,
            t.cost_usd,
            t.exit_reason
                .as_ref()
                .map(|e| format!("  last: {e}"))
                .unwrap_or_default()
        ));
        if let Some(branch) = &t.branch {
            let changes = t
                .changes
                .as_ref()
                .map_or_else(|| "not committed yet".to_string(), |c| c.line());
            out.push_str(&format!("      worktree branch {branch}: {changes}\n"));
            for f in t.changes.iter().flat_map(|c| c.files.iter()) {
                let counts = match (f.added, f.removed) {
                    (Some(a), Some(r)) => format!("+{a} −{r}"),
                    _ => "binary".into(),
                };
                out.push_str(&format!("        {}  {counts}\n", f.path));
            }
        }
        for denial in &t.denials {
            out.push_str(&format!(
                "      refused {} `{}`{}\n",
                denial.tool,
                denial.input,
                denial
                    .message
                    .lines()
                    .next()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        for decision in d.decisions.iter().filter(|x| x.task_id == t.id) {
            out.push_str(&format!(
                "      tool call {}\n",
                super::approvals::decision_line(decision)
            ));
        }
        for a in d.attempts.iter().filter(|a| a.task_idx == t.idx) {
            let exit = match (a.exit_code, a.exit_signal) {
                (Some(c), _) => format!("exit {c}"),
                (None, Some(s)) => format!("signal {s}"),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "      attempt {}  pid {}  {}  {}{}{}\n",
                a.attempt,
                a.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                a.exit_reason
                    .map_or_else(|| "running".to_string(), |r| r.to_string()),
                exit,
                a.resumed_from
                    .as_ref()
                    .map(|s| format!("  resumed {}", short(s, 8)))
                    .unwrap_or_default(),
                a.detail
                    .as_ref()
                    .map(|s| format!("  ({})", short(s, 80)))
                    .unwrap_or_default()
            ));
            if let Some(hint) = &a.hint {
                out.push_str(&format!("        hint: {hint}\n"));
            }
            if let Some(tail) = a.stderr_tail.as_ref().filter(|t| !t.trim().is_empty()) {
                out.push_str(&format!(
                    "        stderr: {}\n",
                    short(tail.trim().lines().last().unwrap_or(""), 100)
                ));
            }
        }
        if let Some(o) = &t.output {
            out.push_str(&format!(
                "      output: {}{}\n",
                short(o, 100),
                clip_mark(clipped, TextPart::TaskOutput(t.idx))
            ));
        }
    }
    if let Some(a) = &r.answer {
        out.push_str(&format!(
            "\nanswer ({}):\n{}{}\n",
            r.answer_mode.as_deref().unwrap_or("-"),
            a.trim(),
            clip_mark(clipped, TextPart::Answer)
        ));
    }
    out
}
