//! Attribute names set from code (span fields named in `tracing` macros are written there, as
//! the macros need identifiers): the OpenTelemetry GenAI, process and error conventions smith
//! uses, and its own `smith.*` attributes. Our own constants: the semantic-conventions crate
//! marks the GenAI ones deprecated (they moved), and `-D warnings` builds must stay clean.

/// `gen_ai.operation.name`: invoke_agent, plan, invoke_workflow, …
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.provider.name` (always `anthropic`).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.response.model`.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.usage.input_tokens`.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read.input_tokens`.
pub const GEN_AI_USAGE_CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.usage.cache_creation.input_tokens`.
pub const GEN_AI_USAGE_CACHE_CREATION: &str = "gen_ai.usage.cache_creation.input_tokens";
/// `gen_ai.token.type` on `gen_ai.client.token.usage`: input or output.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// `process.pid`.
pub const PROCESS_PID: &str = "process.pid";
/// `process.exit.code`.
pub const PROCESS_EXIT_CODE: &str = "process.exit.code";
/// `error.type`: low-cardinality, only on failure.
pub const ERROR_TYPE: &str = "error.type";
/// `smith.exit_reason`: the outcome class.
pub const SMITH_EXIT_REASON: &str = "smith.exit_reason";
/// The worker node an attempt ran on.
pub const SMITH_NODE: &str = "smith.node";
/// `smith.verdict`: a tool call allowed or denied.
pub const SMITH_VERDICT: &str = "smith.verdict";
/// `smith.decided_by`: rule, remembered, person, timeout, unattended, withdrawn, restart.
pub const SMITH_DECIDED_BY: &str = "smith.decided_by";
/// `gen_ai.tool.call.arguments` on an `execute_tool` span (only with `telemetry.record_content`).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result` on an `execute_tool` span (only with `telemetry.record_content`).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// `gen_ai.tool.name` on a decision's span event.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `smith.budget.ceiling`: `session` or `day`.
pub const SMITH_BUDGET_CEILING: &str = "smith.budget.ceiling";
/// `smith.session`: a session's name (only on a session ceiling's use).
pub const SMITH_SESSION: &str = "smith.session";
/// `smith.request.status`.
pub const SMITH_REQUEST_STATUS: &str = "smith.request.status";
/// `smith.prompt` (only with `telemetry.record_content`).
pub const SMITH_PROMPT: &str = "smith.prompt";
/// `smith.answer` (only with `telemetry.record_content`).
pub const SMITH_ANSWER: &str = "smith.answer";
/// The provider value.
pub const ANTHROPIC: &str = "anthropic";
