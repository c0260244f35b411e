//! What one REPL entry says: an ask (its text, possibly over several lines) or a slash command
//! with its words — parsed here, run by `repl` — and what Tab completes while one is typed.

/// The slash commands, as `/help` lists them.
pub const COMMANDS: &[&str] = &[
    "help",
    "tasks",
    "plan",
    "synthesize",
    "strategy",
    "isolate",
    "follow",
    "session",
    "status",
    "history",
    "show",
    "diff",
    "apply",
    "discard",
    "cancel",
    "approve",
    "deny",
    "approvals",
    "logs",
    "usage",
    "workspaces",
    "sessions",
];

/// The words a command's first argument may be, where they are few.
fn first_words(command: &str) -> &'static [&'static str] {
    match command {
        "strategy" => &["one_for_one", "one_for_all", "rest_for_one"],
        "isolate" => &["worktree", "none"],
        "plan" | "synthesize" => &["on", "off"],
        "tasks" => &["clear"],
        _ => &[],
    }
}

/// What Tab completes in `line` with the cursor at `pos`: where the completed word starts, and
/// its candidates — a command's name after `/`, or its first word where that is one of a few.
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let Some(before) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let Some(rest) = before.strip_prefix('/') else {
        return (pos, Vec::new());
    };
    let matching = |word: &str, from: &[&str]| -> Vec<String> {
        from.iter()
            .filter(|c| c.starts_with(word))
            .map(|c| c.to_string())
            .collect()
    };
    match rest.split_once(' ') {
        None => (1, matching(rest, COMMANDS)),
        Some((command, arg)) if !arg.contains(' ') => {
            (pos - arg.len(), matching(arg, first_words(command)))
        }
        Some(_) => (pos, Vec::new()),
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing (an empty line).
    Empty,
    /// Ask the session this.
    Ask(String),
    /// `/name word…`.
    Command(String, Vec<String>),
}

/// Reads an entry: a line starting with `/` is a command; anything else an ask.
pub fn entry(text: &str) -> Result<Entry, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Entry::Empty);
    }
    match trimmed.strip_prefix('/') {
        Some(rest) => {
            let mut words = words(rest)?;
            if words.is_empty() {
                return Err("a command after /: /help lists them".into());
            }
            let name = words.remove(0);
            Ok(Entry::Command(name, words))
        }
        None => Ok(Entry::Ask(trimmed.to_string())),
    }
}

/// A line continues on the next when it ends with a backslash: the line without it.
pub fn continued(line: &str) -> Option<&str> {
    line.strip_suffix('\\')
}

/// Words as a shell splits them: spaces separate, single and double quotes group, a backslash
/// escapes the next character (outside single quotes).
pub fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => match chars.next() {
                Some(next) => {
                    cur.push(next);
                    in_word = true;
                }
                None => return Err("a backslash at the end".into()),
            },
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} quote is not closed"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_completes_commands_and_their_few_first_words() {
        assert_eq!(
            complete("/ap", 3),
            (
                1,
                vec!["apply".into(), "approve".into(), "approvals".into()]
            )
        );
        assert_eq!(
            complete("/strategy one_for_", 18).1,
            ["one_for_one", "one_for_all"]
        );
        assert_eq!(complete("/strategy one_for_", 18).0, 10);
        assert_eq!(complete("/isolate w", 10), (9, vec!["worktree".into()]));
        assert_eq!(complete("/show r-1 --t", 13).1, Vec::<String>::new());
        assert_eq!(
            complete("what is /ap", 11).1,
            Vec::<String>::new(),
            "asks are not completed"
        );
        assert_eq!(complete("/", 1).1.len(), COMMANDS.len());
    }

    #[test]
    fn asks_commands_and_words_are_told_apart() {
        assert_eq!(entry("  "), Ok(Entry::Empty));
        assert_eq!(
            entry(" why is the sky blue? "),
            Ok(Entry::Ask("why is the sky blue?".into()))
        );
        assert_eq!(
            entry(r#"/deny a-1 --message "not now, it's late""#),
            Ok(Entry::Command(
                "deny".into(),
                vec![
                    "a-1".into(),
                    "--message".into(),
                    "not now, it's late".into()
                ]
            ))
        );
        assert_eq!(
            words(r#"a 'b c' d\ e "" x"#).unwrap(),
            ["a", "b c", "d e", "", "x"]
        );
        assert!(entry("/").is_err());
        assert!(words("'open").unwrap_err().contains("not closed"));
        assert_eq!(continued("first \\"), Some("first "));
        assert_eq!(continued("done"), None);
    }
}
