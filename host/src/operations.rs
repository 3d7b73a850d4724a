//! The repository's operations, learned from the component: every function
//! of its `repository` export, with its parameters, is read from the
//! component's types when it is loaded, and called through one generic
//! path ([`SessionStore::call`](crate::SessionStore::call)). No host code
//! lists the operations; a new export in `wit/` is callable from every host
//! as soon as the guest implements it.
//!
//! Parameters are strings (ids, cursors, JSON documents of
//! `schema/sessions.schema.json`), whole numbers, booleans and enums;
//! results are `result<T, session-error>` with `T` a JSON document (string),
//! a boolean or a whole number.

use std::collections::HashMap;

use wasmtime::Engine;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex, Val};

use agent_sessions_guest::kv::ErrorKind;

use crate::error::Error;

/// One argument of an operation, converted to the parameter's WIT type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A `string` parameter (an id, a cursor, a JSON document), or the
    /// name of an `enum` case (`"skip"` for a `conflict-policy`).
    Text(String),
    /// A `bool` parameter.
    Bool(bool),
    /// A `u32` or `u64` parameter; out of its range is invalid input.
    Int(u64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Arg::Bool(value)
    }
}

impl From<u32> for Arg {
    fn from(value: u32) -> Self {
        Arg::Int(value.into())
    }
}

impl From<u64> for Arg {
    fn from(value: u64) -> Self {
        Arg::Int(value)
    }
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A JSON document of the shared schema.
    Text(String),
    Bool(bool),
    /// A `u32` or `u64` result.
    Int(u64),
}

impl Reply {
    /// The reply as JSON text: the document itself, or `true` / `42`.
    pub fn into_json(self) -> String {
        match self {
            Reply::Text(text) => text,
            Reply::Bool(value) => value.to_string(),
            Reply::Int(value) => value.to_string(),
        }
    }
}

/// The WIT type of a parameter, as far as the generic path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    String,
    Bool,
    U32,
    U64,
    /// An enum, with its cases' names.
    Enum(Vec<String>),
}

impl ParamType {
    fn describe(&self) -> String {
        match self {
            ParamType::String => "string".into(),
            ParamType::Bool => "bool".into(),
            ParamType::U32 => "u32".into(),
            ParamType::U64 => "u64".into(),
            ParamType::Enum(cases) => format!("one of {}", cases.join(", ")),
        }
    }
}

/// One operation of the repository, as the component declares it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The export's name in the WIT (`get-items`).
    pub name: String,
    /// Parameter names and types, in order.
    pub params: Vec<(String, ParamType)>,
    pub(crate) index: ComponentExportIndex,
}

impl Operation {
    /// `get-items(id: string, query: string)`, for messages and help.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|(name, ty)| format!("{name}: {}", ty.describe())).collect();
        format!("{}({})", self.name, params.join(", "))
    }

    /// The arguments as the component's values, checked against the
    /// parameters: a mismatch is invalid input naming the parameter.
    pub(crate) fn lower(&self, args: Vec<Arg>) -> Result<Vec<Val>, Error> {
        if args.len() != self.params.len() {
            return Err(Error::InvalidInput(format!(
                "{} takes {} argument(s), not {}",
                self.signature(),
                self.params.len(),
                args.len()
            )));
        }
        let wrong = |name: &str, ty: &ParamType, arg: &Arg| {
            Error::InvalidInput(format!("{}: {name} must be {}, not {arg:?}", self.name, ty.describe()))
        };
        self.params
            .iter()
            .zip(args)
            .map(|((name, ty), arg)| match (ty, arg) {
                (ParamType::String, Arg::Text(text)) => Ok(Val::String(text)),
                (ParamType::Bool, Arg::Bool(value)) => Ok(Val::Bool(value)),
                (ParamType::U64, Arg::Int(value)) => Ok(Val::U64(value)),
                (ParamType::U32, Arg::Int(value)) => u32::try_from(value).map(Val::U32).map_err(|_| {
                    Error::InvalidInput(format!("{}: {name} must be at most {}, not {value}", self.name, u32::MAX))
                }),
                (ParamType::Enum(cases), Arg::Text(case)) if cases.contains(&case) => Ok(Val::Enum(case)),
                (ty, arg) => Err(wrong(name, ty, &arg)),
            })
            .collect()
    }
}

/// Every operation of the component's repository export, by name.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    by_name: HashMap<String, Operation>,
}

impl Operations {
    /// Reads the repository export's functions from the component's types.
    pub(crate) fn learn(engine: &Engine, component: &Component) -> Result<Self, String> {
        let ty = component.component_type();
        let (interface, instance) = ty
            .exports(engine)
            .find_map(|(name, item)| match item.ty {
                ComponentItem::ComponentInstance(instance) if is_repository(name) => Some((name.to_owned(), instance)),
                _ => None,
            })
            .ok_or("it exports no agent:sessions/repository interface")?;
        let interface_index = component
            .get_export_index(None, interface.as_str())
            .ok_or_else(|| format!("its export {interface} has no index"))?;
        let mut by_name = HashMap::new();
        for (name, item) in instance.exports(engine) {
            let ComponentItem::ComponentFunc(func) = item.ty else { continue };
            let params = func
                .params()
                .map(|(param, ty)| Ok((param.to_owned(), param_type(&ty).ok_or_else(|| unsupported(name, param))?)))
                .collect::<Result<Vec<_>, String>>()?;
            let results: Vec<Type> = func.results().collect();
            if !matches!(results.as_slice(), [Type::Result(_)]) {
                return Err(format!("its operation {name} does not return result<_, session-error>"));
            }
            let index = component
                .get_export_index(Some(&interface_index), name)
                .ok_or_else(|| format!("its operation {name} has no index"))?;
            by_name.insert(name.to_owned(), Operation { name: name.to_owned(), params, index });
        }
        Ok(Self { by_name })
    }

    /// The operation `name`, or invalid input listing the ones there are.
    pub fn get(&self, name: &str) -> Result<&Operation, Error> {
        self.by_name.get(name).ok_or_else(|| {
            Error::InvalidInput(format!("no operation {name:?}; the component has {}", self.names().join(", ")))
        })
    }

    /// Every operation's name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Every operation, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Operation> {
        let mut operations: Vec<&Operation> = self.by_name.values().collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        operations.into_iter()
    }
}

/// `agent:sessions/repository@<version>`: the package and interface name
/// are the contract; the version is whatever this component was built with.
fn is_repository(export: &str) -> bool {
    export.split('@').next() == Some("agent:sessions/repository")
}

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

fn unsupported(operation: &str, param: &str) -> String {
    format!(
        "its operation {operation} has a parameter {param} of a type hosts cannot pass (string, bool, u32, u64, enum)"
    )
}

/// The operation's result: `Ok` as a [`Reply`], `Err` as the typed error.
pub(crate) fn lift(operation: &str, result: Val) -> Result<Reply, Error> {
    let unexpected = |what: &str| Error::Guest(format!("{operation} returned {what}, which this host cannot read"));
    match result {
        Val::Result(Ok(Some(value))) => match *value {
            Val::String(text) => Ok(Reply::Text(text)),
            Val::Bool(value) => Ok(Reply::Bool(value)),
            Val::U32(value) => Ok(Reply::Int(value.into())),
            Val::U64(value) => Ok(Reply::Int(value)),
            other => Err(unexpected(&format!("{other:?}"))),
        },
        Val::Result(Err(Some(error))) => Err(session_error(*error).unwrap_or_else(|| unexpected("an unknown error"))),
        other => Err(unexpected(&format!("{other:?}"))),
    }
}

/// A `session-error` variant as the host's [`Error`].
fn session_error(error: Val) -> Option<Error> {
    let Val::Variant(case, Some(payload)) = error else { return None };
    if case == "backend" {
        let Val::Record(fields) = *payload else { return None };
        let field = |wanted: &str| fields.iter().find(|(name, _)| name == wanted).map(|(_, value)| value);
        let (Some(Val::Enum(kind)), Some(Val::String(message))) = (field("kind"), field("message")) else {
            return None;
        };
        return Some(Error::storage(storage_error_kind(kind), message.clone()));
    }
    let Val::String(text) = *payload else { return None };
    Some(match case.as_str() {
        "invalid-input" => Error::InvalidInput(text),
        "not-found" => Error::NotFound(text),
        "conflict" => Error::Conflict(text),
        "data-corrupt" => Error::data_corrupt(&text),
        _ => return None,
    })
}

/// A `storage-error-kind` case by its WIT name.
fn storage_error_kind(name: &str) -> ErrorKind {
    match name {
        "unavailable" => ErrorKind::Unavailable,
        "timeout" => ErrorKind::Timeout,
        "wrong-type" => ErrorKind::WrongType,
        "invalid-batch" => ErrorKind::InvalidBatch,
        _ => ErrorKind::Other,
    }
}
