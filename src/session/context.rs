//! A task's context slice: the request, the task's instruction, and a bounded window of the
//! session's history. Built once per task and handed over as immutable text.

use crate::store::Turn;

use super::config::ContextLimits;

/// A task's place in its request.
#[derive(Debug, Clone, Copy)]
pub struct TaskRef<'a> {
    /// 1-based position.
    pub index: usize,
    /// Number of tasks.
    pub total: usize,
    /// Short name.
    pub name: &'a str,
    /// What to do.
    pub instruction: &'a str,
}

/// Builds the prompt of one task: history (the last `limits.turns` turns, newest kept first,
/// at most `limits.max_chars` characters; what is left out is said), the request, the task.
pub fn build_slice(
    session: &str,
    history: &[Turn],
    request: &str,
    task: Option<TaskRef<'_>>,
    limits: &ContextLimits,
) -> String {
    let mut out = String::new();
    if task.is_some() {
        out.push_str(&format!(
            "[smith] You are one worker of smith session \"{session}\". Work only on your task \
             below; your answer is merged with the other workers' answers.\n\n"
        ));
    }
    let window: Vec<&Turn> = history.iter().rev().take(limits.turns).collect();
    let mut kept: Vec<String> = Vec::new();
    let mut budget = limits.max_chars;
    let mut truncated = false;
    for turn in &window {
        let text = format!(
            "### Request {seq}\n{prompt}\n### Answer {seq}\n{answer}\n",
            seq = turn.seq,
            prompt = turn.prompt.trim(),
            answer = turn.answer.trim()
        );
        let len = text.chars().count();
        if len <= budget {
            budget -= len;
            kept.push(text);
        } else {
            if budget > 200 {
                let head: String = text.chars().take(budget).collect();
                kept.push(format!(
                    "{head}\n[… {} characters of this turn truncated by smith]\n",
                    len - budget
                ));
            }
            truncated = true;
            break;
        }
    }
    if !kept.is_empty() || !history.is_empty() {
        let omitted = history.len() - kept.len();
        out.push_str(&format!(
            "## Earlier in this session ({} of {} turns",
            kept.len(),
            history.len()
        ));
        if omitted > 0 || truncated {
            out.push_str("; older or longer parts omitted");
        }
        out.push_str(")\n");
        for text in kept.iter().rev() {
            out.push_str(text);
        }
        out.push('\n');
    }
    out.push_str("## Current request\n");
    out.push_str(request.trim());
    out.push('\n');
    if let Some(t) = task {
        out.push_str(&format!(
            "\n## Your task ({} of {}): {}\n{}\n",
            t.index,
            t.total,
            t.name,
            t.instruction.trim()
        ));
    }
    out
}

/// A turn as the Session keeps it in memory: prompt and answer cut to what a slice can show
/// (`context.max_chars`), the cut marked. The full text stays in the store.
pub fn bounded_turn(mut turn: Turn, max_chars: usize) -> Turn {
    for text in [&mut turn.prompt, &mut turn.answer] {
        let len = text.chars().count();
        if len > max_chars {
            let kept: String = text.chars().take(max_chars).collect();
            *text = format!(
                "{kept}\n[… {} characters truncated by smith]",
                len - max_chars
            );
        }
    }
    turn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RequestStatus;

    fn turn(seq: i64, prompt: &str, answer: &str) -> Turn {
        Turn {
            request_id: format!("r{seq}"),
            seq,
            prompt: prompt.into(),
            answer: answer.into(),
            status: RequestStatus::Succeeded,
        }
    }

    #[test]
    fn includes_the_last_turns_in_order_the_request_and_the_task() {
        let history = vec![
            turn(1, "q1", "a1"),
            turn(2, "q2", "a2"),
            turn(3, "q3", "a3"),
        ];
        let limits = ContextLimits {
            turns: 2,
            max_chars: 10_000,
        };
        let task = TaskRef {
            index: 2,
            total: 3,
            name: "tests",
            instruction: "write tests",
        };
        let s = build_slice("main", &history, "do it", Some(task), &limits);
        assert!(!s.contains("q1"), "{s}");
        let (p2, p3) = (s.find("q2").unwrap(), s.find("q3").unwrap());
        assert!(p2 < p3, "oldest first: {s}");
        assert!(
            s.contains("(2 of 3 turns; older or longer parts omitted)"),
            "{s}"
        );
        assert!(s.contains("## Current request\ndo it"));
        assert!(s.contains("## Your task (2 of 3): tests\nwrite tests"));
        assert!(s.contains("smith session \"main\""));
    }

    #[test]
    fn the_character_cap_holds_and_truncation_is_marked() {
        let long = "x".repeat(5_000);
        let history = vec![turn(1, "old", &long), turn(2, "new", &long)];
        let limits = ContextLimits {
            turns: 10,
            max_chars: 6_000,
        };
        let s = build_slice("main", &history, "req", None, &limits);
        let history_part = &s[..s.find("## Current request").unwrap()];
        assert!(
            history_part.chars().count() < 6_000 + 300,
            "{}",
            history_part.len()
        );
        assert!(s.contains("characters of this turn truncated by smith"));
        assert!(s.contains("older or longer parts omitted"));
        assert!(s.contains("### Request 2"), "the newest turn is kept whole");
    }

    #[test]
    fn no_history_no_history_section() {
        let s = build_slice("main", &[], "hello", None, &ContextLimits::default());
        assert_eq!(s, "## Current request\nhello\n");
    }

    /// The text a turn takes in a slice.
    fn text_len(t: &Turn) -> usize {
        format!(
            "### Request {seq}\n{p}\n### Answer {seq}\n{a}\n",
            seq = t.seq,
            p = t.prompt,
            a = t.answer
        )
        .chars()
        .count()
    }

    fn limits(max_chars: usize) -> ContextLimits {
        ContextLimits {
            turns: 10,
            max_chars,
        }
    }

    #[test]
    fn a_turn_that_fits_exactly_is_kept_whole_and_nothing_is_said_omitted() {
        let history = vec![turn(1, "q", "a")];
        let s = build_slice("main", &history, "r", None, &limits(text_len(&history[0])));
        assert!(s.contains("(1 of 1 turns)\n### Request 1"), "{s}");
        assert!(!s.contains("omitted") && !s.contains("truncated"), "{s}");
    }

    #[test]
    fn a_cut_turn_says_exactly_how_much_is_missing() {
        let history = vec![turn(1, "q", &"y".repeat(1_000))];
        let whole = text_len(&history[0]);
        let s = build_slice("main", &history, "r", None, &limits(300));
        assert!(
            s.contains(&format!(
                "[… {} characters of this turn truncated by smith]",
                whole - 300
            )),
            "{s}"
        );
        // A budget of exactly 200 is too small to show a cut turn: it is omitted instead, and the
        // section still says how many turns there were.
        let s = build_slice("main", &history, "r", None, &limits(200));
        assert!(!s.contains("### Request 1"), "{s}");
        assert!(
            s.contains("## Earlier in this session (0 of 1 turns; older or longer parts omitted)"),
            "{s}"
        );
        let s = build_slice("main", &history, "r", None, &limits(201));
        assert!(
            s.contains("### Request 1"),
            "201 characters show the cut turn: {s}"
        );
    }

    #[test]
    fn a_bounded_turn_is_cut_only_past_the_limit_and_says_by_how_much() {
        let t = bounded_turn(turn(1, "abcd", "xyz"), 4);
        assert_eq!((t.prompt.as_str(), t.answer.as_str()), ("abcd", "xyz"));
        let t = bounded_turn(turn(1, "abcdef", "xy"), 4);
        assert_eq!(t.prompt, "abcd\n[… 2 characters truncated by smith]");
        assert_eq!(t.answer, "xy");
    }
}
