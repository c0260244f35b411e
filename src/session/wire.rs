//! Where a session meets the protocol: a client's `AskSpec` becomes the `RequestSpec` the
//! session runs, and the supervision vocabulary converts both ways (the supervisor knows
//! nothing of the wire).

use crate::protocol;
use crate::supervisor::{Restart, Strategy};

use super::request::RequestSpec;

impl RequestSpec {
    /// The request a client asked for; `traceparent` is the context its `Hello` carried.
    pub fn from_ask(ask: protocol::AskSpec, traceparent: Option<String>) -> Self {
        let protocol::AskSpec {
            session,
            prompt,
            tasks,
            plan,
            synthesize,
            strategy,
            restart,
            max_restarts,
            within,
            timeout,
            budget_usd,
            cwd,
            model,
            isolate,
            bare,
        } = ask;
        RequestSpec {
            session,
            prompt,
            tasks,
            plan,
            synthesize,
            strategy: strategy.map(Strategy::from),
            restart: restart.map(Restart::from),
            max_restarts,
            within,
            timeout,
            budget_usd,
            cwd,
            model,
            isolate,
            bare,
            checkout: None,
            traceparent,
        }
    }
}

impl From<protocol::Strategy> for Strategy {
    fn from(s: protocol::Strategy) -> Self {
        match s {
            protocol::Strategy::OneForOne => Strategy::OneForOne,
            protocol::Strategy::OneForAll => Strategy::OneForAll,
            protocol::Strategy::RestForOne => Strategy::RestForOne,
        }
    }
}

impl From<Strategy> for protocol::Strategy {
    fn from(s: Strategy) -> Self {
        match s {
            Strategy::OneForOne => protocol::Strategy::OneForOne,
            Strategy::OneForAll => protocol::Strategy::OneForAll,
            Strategy::RestForOne => protocol::Strategy::RestForOne,
        }
    }
}

impl From<protocol::Restart> for Restart {
    fn from(r: protocol::Restart) -> Self {
        match r {
            protocol::Restart::Permanent => Restart::Permanent,
            protocol::Restart::Transient => Restart::Transient,
            protocol::Restart::Temporary => Restart::Temporary,
        }
    }
}

impl From<Restart> for protocol::Restart {
    fn from(r: Restart) -> Self {
        match r {
            Restart::Permanent => protocol::Restart::Permanent,
            Restart::Transient => protocol::Restart::Transient,
            Restart::Temporary => protocol::Restart::Temporary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supervision_vocabulary_keeps_its_names_across_the_wire() {
        for s in [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
        ] {
            let wire = protocol::Strategy::from(s);
            assert_eq!(wire.as_str(), s.as_str());
            assert_eq!(Strategy::from(wire), s);
        }
        for r in [Restart::Permanent, Restart::Transient, Restart::Temporary] {
            let wire = protocol::Restart::from(r);
            assert_eq!(wire.as_str(), r.as_str());
            assert_eq!(Restart::from(wire), r);
        }
    }
}
