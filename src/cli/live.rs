//! `smith watch` (a running request followed from another terminal, with the live view of
//! `ask`), `smith logs` (a task's transcript) and the tool calls of `smith show --tools`.

use crate::protocol::{LogEntry, LogsQuery, Request, Response, ToolCall, WatchQuery};

use super::EXIT_OK;
use super::args::{LogsArgs, WatchArgs};
use super::client::{Client, ClientError, unexpected};
use super::follow::follow;
use super::render::{human_secs, print_json, short};

/// `smith watch`.
pub async fn watch(
    client: &mut Client,
    socket: &std::path::Path,
    args: WatchArgs,
) -> Result<u8, ClientError> {
    client
        .send(&Request::Watch(WatchQuery {
            request_id: args.request_id,
            session: args.session,
        }))
        .await?;
    follow(client, socket, args.json, args.follow).await
}

/// `smith logs`.
pub async fn logs(client: &mut Client, args: LogsArgs) -> Result<u8, ClientError> {
    let query = Request::Logs(LogsQuery {
        request_id: args.request_id,
        task: args.task,
        attempt: args.attempt,
        raw: args.raw,
    });
    match client.call(&query).await? {
        Response::Logs(reply) => {
            if args.json {
                print_json(&reply);
            } else if args.raw {
                for line in &reply.raw {
                    println!("{line}");
                }
            } else {
                println!(
                    "── {} attempt {} of {}",
                    reply.task_id, reply.attempt, reply.attempts
                );
                for entry in &reply.entries {
                    print!("{}", entry_text(entry));
                }
            }
            Ok(EXIT_OK)
        }
        other => Err(unexpected(other)),
    }
}

/// One transcript entry as text (worker text comes sanitized).
pub fn entry_text(e: &LogEntry) -> String {
    match e {
        LogEntry::Started {
            model,
            claude_session_id,
        } => format!(
            "started: {} (Claude session {claude_session_id})\n",
            model.as_deref().unwrap_or("default model")
        ),
        LogEntry::Text(text) => format!("{}\n", text.trim_end()),
        LogEntry::ToolCall { tool, input } => format!("▸ {tool}: {input}\n"),
        LogEntry::ToolResult { output, is_error } => {
            let mark = if *is_error { "✗" } else { "←" };
            let mut out = String::new();
            for line in output.trim_end().lines() {
                out.push_str(&format!("  {mark} {line}\n"));
            }
            if out.is_empty() {
                out = format!("  {mark} (no output)\n");
            }
            out
        }
        LogEntry::ApiRetry { status, attempt } => format!(
            "API error {}; the CLI retries ({attempt})\n",
            status.map_or_else(|| "without status".to_string(), |s| s.to_string())
        ),
        LogEntry::Denied { tool, message } => format!("refused {tool}: {message}\n"),
        LogEntry::Result {
            subtype,
            is_error,
            text,
            cost_usd,
        } => {
            let how = if *is_error { "failed" } else { "ended" };
            let why = if *is_error {
                text.as_deref()
                    .map(|t| format!(": {}", short(t, 200)))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!("── {how} ({subtype}), ${cost_usd:.4}{why}\n")
        }
        LogEntry::Cut { lines_dropped } => {
            format!("── {lines_dropped} more line(s) not kept (store.transcript_max_bytes)\n")
        }
    }
}

/// The tool calls of `smith show --tools`: task, attempt, tool, input, duration, error.
pub fn tools_table(calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return "no tool calls recorded\n".into();
    }
    let mut out = String::from("tool calls:\n");
    for c in calls {
        let a = &c.activity;
        let took = a.duration_ms.map_or_else(
            || "running".to_string(),
            |ms| human_secs(ms as f64 / 1000.0),
        );
        let error = a
            .error
            .as_ref()
            .map(|e| format!("  ✗ {}", short(e, 80)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {:<4} #{:<2} {:<10} {:<50} {:>8}{error}\n",
            c.task_id,
            c.attempt,
            short(&a.tool, 10),
            short(&a.input, 50),
            took
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ToolActivity;

    #[test]
    fn tool_calls_and_transcripts_read_as_lines() {
        let call = |id: &str, ms: Option<u64>, error: Option<&str>| ToolCall {
            task_id: "t2".into(),
            attempt: 1,
            activity: ToolActivity {
                call_id: id.into(),
                tool: "Bash".into(),
                input: "cargo test".into(),
                started_ms: 0,
                duration_ms: ms,
                error: error.map(String::from),
            },
        };
        let table = tools_table(&[call("a", Some(41_000), None), call("b", None, Some("boom"))]);
        assert!(table.contains("t2   #1  Bash       cargo test"), "{table}");
        assert!(table.contains("41.0s") || table.contains("41s"), "{table}");
        assert!(
            table.contains("running") && table.contains("✗ boom"),
            "{table}"
        );
        assert_eq!(tools_table(&[]), "no tool calls recorded\n");
        let result = entry_text(&LogEntry::ToolResult {
            output: "a\nb".into(),
            is_error: true,
        });
        assert_eq!(result, "  ✗ a\n  ✗ b\n");
        let end = entry_text(&LogEntry::Result {
            subtype: "success".into(),
            is_error: false,
            text: Some("the answer".into()),
            cost_usd: 0.5,
        });
        assert_eq!(end, "── ended (success), $0.5000\n");
    }
}
