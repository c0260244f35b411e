//! Workspaces: each work task of an isolated request (`--isolate worktree`) in a git worktree of
//! its own, on branch `smith/<request>/<task>` cut from the checkout's HEAD when the request was
//! accepted — and the lifecycle around it: made ready before the worker starts (found again on a
//! restart or resume), what the task changed committed when an attempt ends, reviewed with
//! `diff`, merged with `apply` (checked first, nothing half-applied), thrown away with `discard`
//! or after `workspace.keep_for`, and reconciled at startup and periodically.
//!
//! - `workspaces`: the service's [`Workspaces`] (make ready, commit, remove; one writer per
//!   repository);
//! - `git`: the typed git CLI wrapper; `repo_locks`: one writer per repository;
//! - `checkout`: the user's checkout as a request was accepted from it;
//! - `worktree`: one task's worktree (create, commit, changes, remove);
//! - `prepare`: what a new worktree gets before its worker (`workspace.copy`, `workspace.setup`);
//! - `review`: diff, apply, discard over a request's workspaces;
//! - `reconcile`: expiry and orphans; `settings`: `[workspace]`.
//!
//! It imports nothing of smith but the protocol's types, the settings helpers, telemetry's
//! metrics and the process group guard: the agent's runner, the session and the service call it.

mod checkout;
mod error;
mod git;
mod prepare;
pub(crate) mod reconcile;
mod repo_locks;
pub(crate) mod review;
mod settings;
mod workspaces;
mod worktree;

pub use checkout::Checkout;
pub use error::WorkspaceError;
pub use settings::WorkspaceSettings;
pub use workspaces::Workspaces;
pub use worktree::{TaskWorkspace, Worktree, branch_name, parse_branch};
