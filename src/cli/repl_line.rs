//! What one REPL entry says: an ask (its text, possibly over several lines) or a slash command
//! with its words — parsed here, run by `repl`.

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
