//! What a client asks for: the request it submits (`Request::Ask`) and the supervision
//! vocabulary it may choose from.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One explicit task: what its worker is to do, and optionally a short name (else the first
/// words of the instruction).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskInput {
    /// Short name (shown in progress and as the answer's section title).
    pub name: Option<String>,
    /// What the worker is to do.
    pub instruction: String,
}

impl From<&str> for TaskInput {
    fn from(instruction: &str) -> Self {
        instruction.to_string().into()
    }
}

impl From<String> for TaskInput {
    fn from(instruction: String) -> Self {
        Self {
            name: None,
            instruction,
        }
    }
}

/// A request as the client sends it. Unset fields take smithd's configured defaults; the
/// client's trace context travels once, in the `Hello`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AskSpec {
    /// The session it belongs to.
    pub session: String,
    /// What the user asks.
    pub prompt: String,
    /// Explicit tasks, in order (exclusive with `plan`).
    pub tasks: Vec<TaskInput>,
    /// Let a planner task split the request into tasks.
    pub plan: bool,
    /// Let one more task write the answer from all results.
    pub synthesize: bool,
    /// Restart strategy of the request's tasks.
    pub strategy: Option<Strategy>,
    /// Restart type of its tasks (`transient` or `temporary`).
    pub restart: Option<Restart>,
    /// Restart intensity: at most this many restarts ...
    pub max_restarts: Option<u32>,
    /// ... within this period.
    pub within: Option<Duration>,
    /// Wall-clock limit of each attempt.
    pub timeout: Option<Duration>,
    /// Budget of the request in USD.
    pub budget_usd: Option<f64>,
    /// Working directory (must lie inside smithd's `agent.roots`).
    pub cwd: PathBuf,
    /// Model for its tasks.
    pub model: Option<String>,
    /// Where its work tasks run (`None`: `agent.isolation`).
    pub isolate: Option<super::workspace::Isolation>,
    /// Run the workers with the CLI's `--bare` (`None`: `agent.bare`).
    pub bare: Option<bool>,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Its name as users read and write it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?} (expected {})"),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// An OTP restart strategy.
    Strategy, "strategy" {
        /// Restart only the failed task.
        OneForOne = "one_for_one",
        /// Stop the others and restart all of them.
        OneForAll = "one_for_all",
        /// Restart the failed task and those started after it.
        RestForOne = "rest_for_one",
    }
}

named_enum! {
    /// An OTP restart type.
    Restart, "restart type" {
        /// Always restarted.
        Permanent = "permanent",
        /// Restarted only after an abnormal exit.
        Transient = "transient",
        /// Never restarted.
        Temporary = "temporary",
    }
}
