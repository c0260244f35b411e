//! Test actors: a `Worker` that exits or hangs on command and logs its life, and a `Probe`
//! parent that reports the exits of what it supervises.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use smith::supervisor::{ChildSpec, ChildStart, ExitReason, SupervisorRef};
use tokio::sync::mpsc;

/// What happened to workers, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started(String),
    Stopped(String),
}

/// A shared, ordered log of worker lives.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Event>>>);

impl Log {
    pub fn push(&self, e: Event) {
        self.0.lock().expect("log lock").push(e);
    }
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("log lock").clone()
    }
    pub fn clear(&self) {
        self.0.lock().expect("log lock").clear();
    }
    pub fn starts(&self, name: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| **e == Event::Started(name.to_string()))
            .count()
    }
    /// Names in the order they started / stopped.
    pub fn started(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Started(n) => Some(n),
                _ => None,
            })
            .collect()
    }
    pub fn stopped(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Stopped(n) => Some(n),
                _ => None,
            })
            .collect()
    }
}

/// Commands for a worker.
#[derive(Debug)]
pub enum WorkerMsg {
    /// Stop with reason "normal".
    ExitNormal,
    /// Stop with reason "shutdown".
    ExitShutdown,
    /// Fail (an `Err` from the handler: abnormal).
    Crash,
    /// Panic in the handler (abnormal).
    Panic,
    /// Block the handler forever: ignores stop requests.
    Hang,
}

pub struct Worker {
    pub name: String,
    pub log: Log,
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WorkerMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        self.log.push(Event::Started(self.name.clone()));
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<WorkerMsg>,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        self.log.push(Event::Stopped(self.name.clone()));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::ExitNormal => myself.stop(Some("normal".into())),
            WorkerMsg::ExitShutdown => myself.stop(Some("shutdown".into())),
            WorkerMsg::Crash => return Err(format!("{} crashed on purpose", self.name).into()),
            WorkerMsg::Panic => panic!("{} panicked on purpose", self.name),
            WorkerMsg::Hang => std::future::pending::<()>().await,
        }
        Ok(())
    }
}

/// A start function's behaviour: fail the starts whose 1-based number `fail(n)` says.
pub type FailPlan = Arc<dyn Fn(usize) -> bool + Send + Sync>;

/// A worker child spec named `name` logging into `log`.
pub fn worker(name: &str, log: &Log) -> ChildSpec {
    worker_failing(name, log, Arc::new(|_| false), Arc::default())
}

/// A worker child spec whose start number n (1-based, counted in `starts`) fails when `fail(n)`.
pub fn worker_failing(
    name: &str,
    log: &Log,
    fail: FailPlan,
    starts: Arc<AtomicUsize>,
) -> ChildSpec {
    let name = name.to_string();
    let log = log.clone();
    ChildSpec::new(name.clone(), move |sup: ActorCell| {
        let name = name.clone();
        let log = log.clone();
        let fail = fail.clone();
        let starts = starts.clone();
        async move {
            let n = starts.fetch_add(1, Ordering::SeqCst) + 1;
            if fail(n) {
                return Err(format!("start {n} of {name} refused on purpose").into());
            }
            let (actor, _) = Actor::spawn_linked(None, Worker { name, log }, (), sup).await?;
            Ok(ChildStart::Started(actor.get_cell()))
        }
    })
}

/// The running cell of child `id`, if any.
pub async fn cell_of(sup: &SupervisorRef, id: &str) -> Option<ActorCell> {
    sup.which_children()
        .await
        .ok()?
        .into_iter()
        .find(|c| c.id.0 == id)
        .and_then(|c| c.cell)
}

/// Sends `msg` to the running child `id`.
pub async fn tell(sup: &SupervisorRef, id: &str, msg: WorkerMsg) {
    let cell = cell_of(sup, id)
        .await
        .unwrap_or_else(|| panic!("child {id} is not running"));
    cell.send_message::<WorkerMsg>(msg).expect("send to worker");
}

/// A parent actor that reports the exits of its linked children.
pub struct Probe;

impl Actor for Probe {
    type Msg = ();
    type State = mpsc::UnboundedSender<ExitReason>;
    type Arguments = mpsc::UnboundedSender<ExitReason>;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        tx: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<()>,
        event: SupervisionEvent,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(reason) = ExitReason::from_event(&event) {
            let _ = tx.send(reason);
        }
        Ok(())
    }
}

/// Spawns a probe; returns its cell and the receiver of exit reasons.
pub async fn probe() -> (ActorCell, mpsc::UnboundedReceiver<ExitReason>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (actor, _) = Actor::spawn(None, Probe, tx).await.expect("spawn probe");
    (actor.get_cell(), rx)
}

/// Waits for the next exit the probe reports.
pub async fn next_exit(rx: &mut mpsc::UnboundedReceiver<ExitReason>) -> ExitReason {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("an exit within 30 s")
        .expect("probe alive")
}
