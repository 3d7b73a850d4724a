//! The HTTP front's `agent:sessions/repository` import, bound to a
//! [`SessionStore`]'s generic call path: every function the front imports
//! is read from its component's types (none is listed here) and runs as
//! [`SessionStore::call`] with the same name, so pooled guest instances,
//! Redis Cluster and `--wait-replicas` apply to the API as to every host.
//!
//! Errors go back as the WIT `session-error` the front maps to HTTP: the
//! guest's own errors as they are, and the host's own as `backend` with
//! the closest storage-error kind:
//!
//! | host error | `session-error` | why |
//! |---|---|---|
//! | `Unavailable` | `backend(unavailable)` | storage unreachable, nothing written |
//! | `StorageTimeout` | `backend(timeout)` | storage did not answer in time |
//! | `Timeout` (the whole call) | `backend(timeout)` | the same promise: a write may or may not have happened |
//! | `NotReplicated` | `backend(timeout)` | the write reached the primary but not the replicas in time: it may be lost, which is what `timeout` says |
//! | `Guest` (trap, memory or CPU limit) | `backend(other)` | a failure of this service, not of the request |
//! | `Setup` | `backend(unavailable)` | the service cannot run the component now; nothing was written |
//!
//! The message is the error's text (never a token: none reaches a store).

use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, Linker, Val};

use agent_sessions_guest::kv::ErrorKind;

use super::front::FrontState;
use crate::error::Error;
use crate::operations::{Arg, Operations, ParamType, Reply};

/// What a repository function returns when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OkType {
    String,
    Bool,
    U32,
    U64,
}

/// The `session-error` cases whose payload is a string.
const TEXT_CASES: [&str; 4] = ["invalid-input", "not-found", "conflict", "data-corrupt"];

/// Defines every function of the front's repository import in `linker`.
/// `operations` are the session component's: each imported function must
/// be one of them, with the same parameters.
pub(crate) fn bind(
    linker: &mut Linker<FrontState>,
    engine: &Engine,
    front: &Component,
    operations: &Operations,
) -> Result<(), String> {
    let ty = front.component_type();
    let (import, instance) = ty
        .imports(engine)
        .find_map(|(name, item)| match item.ty {
            ComponentItem::ComponentInstance(instance) if is_repository(name) => Some((name.to_owned(), instance)),
            _ => None,
        })
        .ok_or("it imports no agent:sessions/repository interface")?;
    let mut functions = Vec::new();
    for (name, item) in instance.exports(engine) {
        let ComponentItem::ComponentFunc(func) = item.ty else { continue };
        let operation = operations
            .get(name)
            .map_err(|_| format!("it imports {name}, which the session component does not export"))?;
        let params: Vec<Option<ParamType>> = func.params().map(|(_, ty)| param_type(&ty)).collect();
        let expected: Vec<Option<ParamType>> = operation.params.iter().map(|(_, ty)| Some(ty.clone())).collect();
        if params != expected {
            return Err(format!(
                "its {name} takes other parameters than the session component's {}",
                operation.signature()
            ));
        }
        let results: Vec<Type> = func.results().collect();
        let ok = match results.as_slice() {
            [Type::Result(result)] => {
                check_session_error(result.err()).map_err(|e| format!("its {name}: {e}"))?;
                ok_type(result.ok()).ok_or_else(|| format!("its {name} returns a value hosts cannot give"))?
            }
            _ => return Err(format!("its {name} does not return result<_, session-error>")),
        };
        functions.push((name.to_owned(), ok));
    }
    let mut repository = linker.instance(&import).map_err(|e| format!("{e:#}"))?;
    for (name, ok) in functions {
        let operation: Arc<str> = name.as_str().into();
        repository
            .func_new_async(&name, move |mut store, _ty, params, results| {
                let operation = operation.clone();
                Box::new(async move {
                    let state = store.data_mut();
                    state.called(&operation);
                    let sessions = state.sessions.clone();
                    let outcome = match params.iter().map(arg).collect::<Result<Vec<_>, _>>() {
                        Ok(args) => sessions.call(&operation, args).await,
                        Err(e) => Err(e),
                    };
                    store.data_mut().resumed();
                    results[0] = lower(&operation, ok, outcome);
                    Ok(())
                })
            })
            .map_err(|e| format!("cannot define {name}: {e:#}"))?;
    }
    Ok(())
}

/// `agent:sessions/repository@<version>`, as `operations` matches exports.
fn is_repository(import: &str) -> bool {
    import.split('@').next() == Some("agent:sessions/repository")
}

/// A parameter type the generic path passes (as `operations` reads them).
fn param_type(ty: &Type) -> Option<ParamType> {
    Some(match ty {
        Type::String => ParamType::String,
        Type::Bool => ParamType::Bool,
        Type::U32 => ParamType::U32,
        Type::U64 => ParamType::U64,
        Type::Enum(cases) => ParamType::Enum(cases.names().map(str::to_owned).collect()),
        _ => return None,
    })
}

fn ok_type(ty: Option<Type>) -> Option<OkType> {
    Some(match ty? {
        Type::String => OkType::String,
        Type::Bool => OkType::Bool,
        Type::U32 => OkType::U32,
        Type::U64 => OkType::U64,
        _ => return None,
    })
}

/// The error type must be the `session-error` this module writes: string
/// cases, and `backend(storage-failure)` with every storage-error kind.
fn check_session_error(ty: Option<Type>) -> Result<(), String> {
    let Some(Type::Variant(variant)) = ty else { return Err("its error is not the session-error variant".into()) };
    let cases: Vec<(String, Option<Type>)> = variant.cases().map(|case| (case.name.to_owned(), case.ty)).collect();
    let case = |name: &str| cases.iter().find(|(case, _)| case == name).map(|(_, ty)| ty.clone());
    for name in TEXT_CASES {
        if !matches!(case(name), Some(Some(Type::String))) {
            return Err(format!("session-error has no {name}(string) case"));
        }
    }
    let Some(Some(Type::Record(failure))) = case("backend") else {
        return Err("session-error has no backend(storage-failure) case".into());
    };
    let fields: Vec<(String, Type)> = failure.fields().map(|field| (field.name.to_owned(), field.ty)).collect();
    let kinds: Vec<String> = match fields.as_slice() {
        [(kind, Type::Enum(kinds)), (message, Type::String)] if kind == "kind" && message == "message" => {
            kinds.names().map(str::to_owned).collect()
        }
        _ => return Err("storage-failure is not record { kind: enum, message: string }".into()),
    };
    for kind in
        [ErrorKind::Unavailable, ErrorKind::Timeout, ErrorKind::WrongType, ErrorKind::InvalidBatch, ErrorKind::Other]
    {
        if !kinds.contains(&kind_name(kind)) {
            return Err(format!("storage-error-kind has no {}", kind_name(kind)));
        }
    }
    Ok(())
}

/// A value the front passed, as an argument of the generic path.
fn arg(value: &Val) -> Result<Arg, Error> {
    Ok(match value {
        Val::String(text) | Val::Enum(text) => Arg::Text(text.clone()),
        Val::Bool(value) => Arg::Bool(*value),
        Val::U32(value) => Arg::Int((*value).into()),
        Val::U64(value) => Arg::Int(*value),
        other => return Err(Error::InvalidInput(format!("this host cannot pass {other:?}"))),
    })
}

/// The call's outcome as the import's `result<T, session-error>`.
fn lower(operation: &str, ok: OkType, outcome: Result<Reply, Error>) -> Val {
    let value = outcome.and_then(|reply| match (ok, reply) {
        (OkType::String, Reply::Text(text)) => Ok(Val::String(text)),
        (OkType::Bool, Reply::Bool(value)) => Ok(Val::Bool(value)),
        (OkType::U64, Reply::Int(value)) => Ok(Val::U64(value)),
        (OkType::U32, Reply::Int(value)) => u32::try_from(value)
            .map(Val::U32)
            .map_err(|_| Error::Guest(format!("{operation} returned {value}, more than a u32"))),
        (_, reply) => Err(Error::Guest(format!("{operation} returned {reply:?}, not the import's type"))),
    });
    Val::Result(match value {
        Ok(value) => Ok(Some(Box::new(value))),
        Err(error) => Err(Some(Box::new(session_error(error)))),
    })
}

/// A host error as the WIT `session-error` (see the module's table).
fn session_error(error: Error) -> Val {
    let text = |case: &str, text: String| Val::Variant(case.to_owned(), Some(Box::new(Val::String(text))));
    let backend = |kind: ErrorKind, message: String| {
        let failure =
            vec![("kind".to_owned(), Val::Enum(kind_name(kind))), ("message".to_owned(), Val::String(message))];
        Val::Variant("backend".to_owned(), Some(Box::new(Val::Record(failure))))
    };
    match error {
        Error::InvalidInput(message) => text("invalid-input", message),
        Error::NotFound(id) => text("not-found", id),
        Error::Conflict(message) => text("conflict", message),
        Error::DataCorrupt(corruption) => match serde_json::to_string(&corruption) {
            Ok(document) => text("data-corrupt", document),
            Err(e) => backend(ErrorKind::Other, format!("corrupt stored data that cannot be described: {e}")),
        },
        Error::Unavailable(message) => backend(ErrorKind::Unavailable, message),
        Error::StorageTimeout(message) => backend(ErrorKind::Timeout, message),
        Error::Backend { kind, message } => backend(kind, message),
        error @ (Error::Timeout(_) | Error::NotReplicated(_)) => backend(ErrorKind::Timeout, error.to_string()),
        error @ Error::Guest(_) => backend(ErrorKind::Other, error.to_string()),
        error @ Error::Setup(_) => backend(ErrorKind::Unavailable, error.to_string()),
    }
}

/// A storage-error kind's WIT name (`wrong-type`).
fn kind_name(kind: ErrorKind) -> String {
    kind.as_str().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(value: &Val) -> (&str, &Val) {
        match value {
            Val::Result(Err(Some(error))) => match error.as_ref() {
                Val::Variant(case, Some(payload)) => (case.as_str(), payload.as_ref()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn backend_kind(value: &Val) -> String {
        match case(value) {
            ("backend", Val::Record(fields)) => match &fields[0] {
                (name, Val::Enum(kind)) if name == "kind" => kind.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replies_take_the_import_type() {
        assert_eq!(
            lower("get", OkType::String, Ok(Reply::Text("{}".into()))),
            Val::Result(Ok(Some(Box::new(Val::String("{}".into())))))
        );
        assert_eq!(lower("check-layout", OkType::U32, Ok(Reply::Int(4))), Val::Result(Ok(Some(Box::new(Val::U32(4))))));
        assert_eq!(backend_kind(&lower("check-layout", OkType::U32, Ok(Reply::Int(u64::MAX)))), "other");
        assert_eq!(backend_kind(&lower("delete", OkType::Bool, Ok(Reply::Int(1)))), "other");
    }

    #[test]
    fn host_errors_become_the_closest_backend_kind() {
        let kind = |error: Error| backend_kind(&lower("get", OkType::String, Err(error)));
        assert_eq!(kind(Error::Unavailable("down".into())), "unavailable");
        assert_eq!(kind(Error::StorageTimeout("slow".into())), "timeout");
        assert_eq!(kind(Error::Timeout(std::time::Duration::from_secs(1))), "timeout");
        assert_eq!(kind(Error::NotReplicated("1 of 2".into())), "timeout");
        assert_eq!(kind(Error::Guest("trap".into())), "other");
        assert_eq!(kind(Error::Setup("no slots".into())), "unavailable");
        assert_eq!(kind(Error::Backend { kind: ErrorKind::WrongType, message: "m".into() }), "wrong-type");
        assert_eq!(kind(Error::Backend { kind: ErrorKind::InvalidBatch, message: "m".into() }), "invalid-batch");
    }

    #[test]
    fn session_errors_keep_their_case() {
        let outcome = |error: Error| lower("get", OkType::String, Err(error));
        assert_eq!(case(&outcome(Error::NotFound("s1".into()))), ("not-found", &Val::String("s1".into())));
        assert_eq!(case(&outcome(Error::InvalidInput("bad".into()))), ("invalid-input", &Val::String("bad".into())));
        assert_eq!(case(&outcome(Error::Conflict("v".into()))), ("conflict", &Val::String("v".into())));
        let corruption = agent_sessions_guest::Corruption {
            session_id: "s1".into(),
            key: "session:s1:meta".into(),
            field: "version".into(),
            message: "not a number".into(),
        };
        let corrupt = outcome(Error::DataCorrupt(corruption.clone()));
        let (name, payload) = case(&corrupt);
        assert_eq!(name, "data-corrupt");
        let Val::String(document) = payload else { panic!("{payload:?}") };
        assert_eq!(serde_json::from_str::<agent_sessions_guest::Corruption>(document).unwrap(), corruption);
    }
}
