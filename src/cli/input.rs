//! What a person types into `smith repl`. One thread owns stdin for the REPL's whole life and
//! reads only when asked — at the prompt with the line editor (editing, persistent history), and
//! a plain line for a question asked while a request runs (an approval, "cancel?") — so nothing
//! else ever competes for what is typed. Over a pipe there is no editor: plain lines.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use tokio::sync::oneshot;

/// What was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// A line (without its newline).
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D, or the end of the input.
    Eof,
}

enum Read {
    /// At the prompt: the line editor, with this prompt.
    Edit(String),
    /// A plain line (the question is already on the screen).
    Plain,
}

type Job = (Read, oneshot::Sender<Typed>);

/// The REPL's input.
pub struct Input {
    jobs: std::sync::mpsc::Sender<Job>,
    pending: Option<oneshot::Receiver<Typed>>,
    /// Typing happens on a terminal (the line editor is used).
    pub terminal: bool,
}

impl Input {
    /// Starts the input thread; on a terminal with the line editor and its history in `history`.
    pub fn start(history: Option<PathBuf>) -> Self {
        let terminal = std::io::stdin().is_terminal();
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::spawn(move || serve(rx, terminal.then_some(history).flatten(), terminal));
        Self {
            jobs,
            pending: None,
            terminal,
        }
    }

    async fn read(&mut self, how: Read) -> Typed {
        if self.pending.is_none() {
            let (tx, rx) = oneshot::channel();
            if self.jobs.send((how, tx)).is_err() {
                return Typed::Eof;
            }
            self.pending = Some(rx);
        }
        let typed = match self.pending.as_mut() {
            Some(rx) => rx.await.unwrap_or(Typed::Eof),
            None => Typed::Eof,
        };
        self.pending = None;
        typed
    }

    /// A line at the prompt (the line editor on a terminal).
    pub async fn edit(&mut self, prompt: &str) -> Typed {
        self.read(Read::Edit(prompt.to_string())).await
    }

    /// A plain line. Cancel-safe: a read that was started and dropped is resumed by the next
    /// call, so no typed line is lost.
    pub async fn plain(&mut self) -> Typed {
        self.read(Read::Plain).await
    }
}

/// The input thread: one read per job, in order.
fn serve(jobs: std::sync::mpsc::Receiver<Job>, history: Option<PathBuf>, terminal: bool) {
    let mut editor = terminal.then(|| editor(history.as_ref())).flatten();
    while let Ok((how, reply)) = jobs.recv() {
        let typed = match (how, editor.as_mut()) {
            (Read::Edit(prompt), Some(ed)) => {
                let typed = match ed.readline(&prompt) {
                    Ok(line) => Typed::Line(line),
                    Err(rustyline::error::ReadlineError::Interrupted) => Typed::Interrupted,
                    Err(_) => Typed::Eof,
                };
                if let Typed::Line(line) = &typed
                    && !line.trim().is_empty()
                {
                    let _ = ed.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = ed.save_history(path);
                    }
                }
                typed
            }
            (Read::Edit(prompt), None) => {
                if terminal {
                    eprint!("{prompt}");
                    let _ = std::io::stderr().flush();
                }
                plain_line()
            }
            (Read::Plain, _) => plain_line(),
        };
        let _ = reply.send(typed);
    }
}

fn plain_line() -> Typed {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Typed::Eof,
        Ok(_) => Typed::Line(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

/// What the line editor does besides editing: Tab completes slash commands.
struct Slash;

impl rustyline::completion::Completer for Slash {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(super::repl_line::complete(line, pos))
    }
}

impl rustyline::hint::Hinter for Slash {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Slash {}
impl rustyline::validate::Validator for Slash {}
impl rustyline::Helper for Slash {}

type LineEditor = rustyline::Editor<Slash, rustyline::history::FileHistory>;

/// The line editor, its history loaded from `history` (the file and its directory are made on
/// the first save).
fn editor(history: Option<&PathBuf>) -> Option<LineEditor> {
    let config = rustyline::Config::builder()
        .max_history_size(1000)
        .ok()?
        .history_ignore_dups(true)
        .ok()?
        .history_ignore_space(true)
        .build();
    let mut ed = LineEditor::with_config(config).ok()?;
    ed.set_helper(Some(Slash));
    if let Some(path) = history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = ed.load_history(path);
    }
    Some(ed)
}
