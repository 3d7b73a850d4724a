//! The two ways to run an operation: through the component (the product)
//! or natively (the same rules without the sandbox), behind one interface.

use agent_sessions_guest::SessionError;
use agent_sessions_host::kv::KvStore;
use agent_sessions_host::{Error, SessionCreate, SessionStore, SessionUpdate};

use crate::native::NativeStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    Component,
    Native,
}

impl PathKind {
    pub fn name(self) -> &'static str {
        match self {
            PathKind::Component => "component",
            PathKind::Native => "native",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Create,
    Get,
    Update,
    Extend,
    List,
    Delete,
}

impl Op {
    /// In the order they run: create makes the sessions the others use,
    /// delete removes them.
    pub const ALL: [Op; 6] = [Op::Create, Op::Get, Op::Update, Op::Extend, Op::List, Op::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Get => "get",
            Op::Update => "update",
            Op::Extend => "extend",
            Op::List => "list",
            Op::Delete => "delete",
        }
    }
}

/// One path's store, as one benchmark thread holds it.
#[derive(Clone)]
pub enum Path {
    Component(SessionStore),
    Native(NativeStore),
}

fn native_error(error: SessionError) -> Error {
    Error::from(error)
}

pub fn example() -> SessionCreate {
    SessionCreate {
        id: None,
        model_id: "gpt-4".into(),
        persona_id: Some("programmer".into()),
        name: Some("Code Review Session".into()),
        temperature: Some(0.7),
        reasoning_effort: Some(5),
        max_tokens: Some(2000),
        tools: vec!["search".into(), "code_analysis".into()],
        custom_prompt: Some("Review the diff for bugs.".into()),
        agent_internal_id: Some("agent-54321".into()),
        status: None,
        ..SessionCreate::default()
    }
}

impl Path {
    /// A path over Redis at `url`, or over the in-memory store for `memory`.
    pub async fn connect(kind: PathKind, url: &str) -> anyhow::Result<Path> {
        let builder = SessionStore::builder();
        let store = if url == "memory" { builder.memory() } else { builder.redis(url) }.build().await?;
        Ok(match kind {
            PathKind::Component => Path::Component(store),
            PathKind::Native => Path::Native(NativeStore::new(store.kv().clone(), store.settings())),
        })
    }

    pub fn kv(&self) -> &KvStore {
        match self {
            Path::Component(store) => store.kv(),
            Path::Native(store) => store.kv(),
        }
    }

    /// Runs `op` once; `id` is the session it works on (unused by create
    /// and list), `n` varies the list offset. Returns a created id.
    pub async fn run(&self, op: Op, id: &str, n: usize) -> Result<Option<String>, Error> {
        let offset = ((n * 7) % 100 * 10) as u64;
        let rename = || SessionUpdate { name: Some(format!("renamed {n}")), ..SessionUpdate::default() };
        match self {
            Path::Component(store) => match op {
                Op::Create => store.create(example()).await.map(|s| Some(s.id)),
                Op::Get => store.get(id).await.map(|_| None),
                Op::Update => store.update(id, rename()).await.map(|_| None),
                Op::Extend => store.extend_ttl(id).await.map(|_| None),
                Op::List => store.list(10, offset).await.map(|_| None),
                Op::Delete => store.delete(id).await.map(|_| None),
            },
            Path::Native(store) => {
                let id = id.to_owned();
                let change = rename();
                match op {
                    Op::Create => store.run(|r| r.create(example())).await.map(|s| Some(s.id)),
                    Op::Get => store.run(move |r| r.get(&id)).await.map(|_| None),
                    Op::Update => store.run(move |r| r.update(&id, change)).await.map(|_| None),
                    Op::Extend => store.run(move |r| r.extend_ttl(&id)).await.map(|_| None),
                    Op::List => store.run(move |r| r.list(10, offset, "")).await.map(|_| None),
                    Op::Delete => store.run(move |r| r.delete(&id)).await.map(|_| None),
                }
                .map_err(native_error)
            }
        }
    }
}
