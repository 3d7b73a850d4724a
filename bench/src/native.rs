//! The native path: the guest crate's `Repository`, compiled for the host
//! and called directly, over the same `KvStore` (same Lua script, same
//! connection code) the component uses. Only the sandbox is missing.
//!
//! The repository is synchronous (inside the component, `kv.execute` is a
//! blocking import that wasmtime turns into an await on a fiber). Natively
//! it runs the same way: on a stackful coroutine that yields each batch to
//! the async caller, who awaits Redis and resumes it with the reply. So both
//! paths do the same I/O the same way, and the difference is the sandbox.

use std::cell::RefCell;

use agent_sessions_guest::kv::{Batch, BatchOutcome, ErrorKind, KvError, Storage};
use agent_sessions_guest::{Repository, SessionError, Settings, SystemEnvironment};
use agent_sessions_host::kv::KvStore;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// What the async side hands back into the coroutine.
enum Resume {
    Start,
    Reply(Result<BatchOutcome, KvError>),
}

/// `Storage` that suspends the coroutine until the batch's reply is in.
pub struct YieldingStorage<'y> {
    yielder: &'y Yielder<Resume, Batch>,
}

impl Storage for YieldingStorage<'_> {
    fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
        match self.yielder.suspend(batch) {
            Resume::Reply(reply) => reply,
            Resume::Start => Err(KvError::new(ErrorKind::InvalidBatch, "coroutine resumed without a reply")),
        }
    }
}

pub type NativeRepository<'y> = Repository<YieldingStorage<'y>, SystemEnvironment>;

/// Coroutine stacks are reused, as wasmtime reuses its fiber stacks.
const STACK_BYTES: usize = 256 * 1024;

thread_local! {
    static STACKS: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

/// The session rules, natively, over a `KvStore`.
#[derive(Clone)]
pub struct NativeStore {
    kv: KvStore,
    settings: Settings,
}

impl NativeStore {
    pub fn new(kv: KvStore, settings: Settings) -> Self {
        Self { kv, settings }
    }

    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// Runs one repository operation to completion, awaiting each batch.
    pub async fn run<T: 'static>(
        &self,
        operation: impl for<'y> FnOnce(&mut NativeRepository<'y>) -> Result<T, SessionError> + 'static,
    ) -> Result<T, SessionError> {
        let stack = STACKS
            .with(|stacks| stacks.borrow_mut().pop())
            .map_or_else(|| DefaultStack::new(STACK_BYTES), Ok)
            .map_err(|e| SessionError::Backend {
                kind: ErrorKind::Other,
                message: format!("cannot allocate a coroutine stack: {e}"),
            })?;
        let settings = self.settings;
        let mut coroutine = Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, Batch>, _start: Resume| {
            let mut repository = Repository::new(YieldingStorage { yielder }, SystemEnvironment, settings)?;
            operation(&mut repository)
        });
        let mut input = Resume::Start;
        let result = loop {
            match coroutine.resume(input) {
                CoroutineResult::Yield(batch) => input = Resume::Reply(self.kv.execute(&batch).await),
                CoroutineResult::Return(result) => break result,
            }
        };
        STACKS.with(|stacks| stacks.borrow_mut().push(coroutine.into_stack()));
        result
    }
}
