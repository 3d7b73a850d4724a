//! Guarded writes to one live session: the conditions every items and
//! state operation starts with (alive, hashes present, owner, expected
//! version), what a failed one means, and the "touch" every such write
//! ends with (timestamps, version, TTLs, owner indexes).
//!
//! A session's owner decides which owner-index keys a write re-scores, and
//! every key of a batch must be named before it runs. A caller that gives
//! the owner (the framework adapters always do) pays one round trip; a
//! caller that does not gets a batch guarded by "no owner", and only if the
//! session turns out to have one, a read of it and a second batch.

use crate::conversation::Owner;
use crate::encoding::{CURRENT_SCHEMA_VERSION, meta_field as m};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::SessionKeys;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Reply, Storage};
use crate::model::Corruption;
use crate::repository::Repository;
use crate::settings::Settings;
use crate::timestamp::Timestamp;

pub(crate) use crate::encoding::meta_field::{APP_NAME, UPDATED_AT_MS, USER_ID};

/// What a condition of a guarded batch checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Alive,
    Data,
    Meta,
    /// The owner the caller named.
    Owner,
    /// "No owner", when the caller named none.
    Unowned,
    Version,
    /// The operation's own condition, with its own meaning.
    Extra,
}

/// Why a guarded write did not apply.
pub(crate) enum Refused {
    Extra { actual: Option<String> },
}

/// A guarded write that applied: its replies and the owner it ran with.
pub(crate) struct Applied {
    pub replies: Vec<Reply>,
    pub owner: Option<Owner>,
}

/// How many times a guarded write may learn the owner and retry.
const OWNER_ATTEMPTS: usize = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Runs `build(owner)` (the operation's own conditions, then its ops) after the guard of session `id`. Returns the replies of the
    /// ops, or which extra condition failed; the guard's own failures
    /// become not-found, data-corrupt or conflict errors.
    pub(crate) fn guarded_write(
        &mut self,
        id: &SessionId,
        keys: &SessionKeys,
        hint: Option<&Owner>,
        expected_version: Option<u64>,
        mut build: impl FnMut(Option<&Owner>) -> Result<(Vec<Condition>, Vec<Op>), SessionError>,
    ) -> Result<Result<Applied, Refused>, SessionError> {
        let id_text = id.to_string();
        let mut owner = hint.cloned();
        for _ in 0..OWNER_ATTEMPTS {
            let (mut conditions, mut roles) = guard(keys, owner.as_ref(), expected_version);
            let (extras, ops) = build(owner.as_ref())?;
            for condition in extras {
                conditions.push(condition);
                roles.push(Role::Extra);
            }
            match self.execute(Batch { conditions, ops }, &id_text)? {
                BatchOutcome::Applied(replies) => return Ok(Ok(Applied { replies, owner })),
                BatchOutcome::ConditionFailed { index, actual } => {
                    let role = roles.get(index as usize).copied().ok_or_else(|| {
                        SessionError::backend(format!("storage reported unknown condition {index} failed"))
                    })?;
                    match role {
                        Role::Unowned => owner = self.read_owner(id, keys)?,
                        Role::Extra => return Ok(Err(Refused::Extra { actual })),
                        other => return Err(guard_error(other, &id_text, keys, actual, expected_version)),
                    }
                }
            }
        }
        Err(SessionError::Conflict(format!("session {id_text}'s owner kept changing while it was written")))
    }

    /// The owner recorded in the meta hash; not-found when the session is gone.
    pub(crate) fn read_owner(&mut self, id: &SessionId, keys: &SessionKeys) -> Result<Option<Owner>, SessionError> {
        let batch = Batch::new()
            .op(Op::TtlMs(keys.expiry.clone()))
            .op(Op::HashGetFields { key: keys.meta.clone(), fields: vec![APP_NAME.into(), USER_ID.into()] });
        let mut replies = self.execute_unconditional(batch, id.as_ref())?;
        if replies.next_reply()?.into_integer()? == -2 {
            return Err(SessionError::NotFound(id.to_string()));
        }
        let mut values = replies.next_reply()?.into_values()?.into_iter();
        owner_of(id, keys, values.next().flatten(), values.next().flatten())
    }
}

/// The ops every write to a live session ends with: `updated_at` and
/// `last_activity` set (and `updated_at_ms`, for a session with an owner), the version bumped (its
/// reply is the first of these ops'), every TTL reset, the owner
/// indexes re-scored.
pub(crate) fn touch_ops(
    settings: &Settings,
    id: &SessionId,
    keys: &SessionKeys,
    owner: Option<&Owner>,
    now: Timestamp,
) -> Vec<Op> {
    let text = now.to_string();
    let hash_ttl = settings.hash_ttl_ms();
    let mut meta_fields = vec![
        (m::UPDATED_AT.into(), text.clone()),
        (m::LAST_ACTIVITY.into(), text),
        (m::SCHEMA_VERSION.into(), CURRENT_SCHEMA_VERSION.into()),
    ];
    // The owner indexes' score, exact to the millisecond; sessions without
    // an owner keep the design document's fields only.
    if owner.is_some() {
        meta_fields.push((UPDATED_AT_MS.into(), now.unix_millis().to_string()));
    }
    let mut ops = vec![
        Op::HashIncrement { key: keys.meta.clone(), field: m::VERSION.into(), delta: 1 },
        Op::HashSet { key: keys.meta.clone(), fields: meta_fields },
        Op::Expire { key: keys.data.clone(), ttl_ms: hash_ttl },
        Op::Expire { key: keys.meta.clone(), ttl_ms: hash_ttl },
        Op::Expire { key: keys.items.clone(), ttl_ms: hash_ttl },
        Op::Expire { key: keys.state.clone(), ttl_ms: hash_ttl },
        Op::Expire { key: keys.expiry.clone(), ttl_ms: settings.session_ttl_ms() },
    ];
    if let Some(owner) = owner {
        let layout = settings.layout();
        let owner_keys = layout.owner_keys(id, owner);
        let score = now.unix_millis() as f64;
        ops.push(Op::SortedAdd { key: owner_keys.user_index, members: vec![(score, id.to_string())] });
        ops.push(Op::SortedAdd { key: owner_keys.app_index, members: vec![(score, id.to_string())] });
    }
    ops
}

/// The owner from the meta hash's two fields: both or neither.
pub(crate) fn owner_of(
    id: &SessionId,
    keys: &SessionKeys,
    app_name: Option<String>,
    user_id: Option<String>,
) -> Result<Option<Owner>, SessionError> {
    match (app_name, user_id) {
        (None, None) => Ok(None),
        (Some(app_name), Some(user_id)) => Ok(Some(Owner { app_name, user_id })),
        (app, _) => Err(SessionError::DataCorrupt(Corruption {
            session_id: id.to_string(),
            key: keys.meta.clone(),
            field: if app.is_some() { USER_ID } else { APP_NAME }.into(),
            message: "a session's owner needs both app_name and user_id".into(),
        })),
    }
}

/// The guard's conditions and what each checks.
fn guard(keys: &SessionKeys, owner: Option<&Owner>, expected_version: Option<u64>) -> (Vec<Condition>, Vec<Role>) {
    let mut conditions = vec![
        Condition::KeyExists(keys.expiry.clone()),
        Condition::KeyExists(keys.data.clone()),
        Condition::KeyExists(keys.meta.clone()),
    ];
    let mut roles = vec![Role::Alive, Role::Data, Role::Meta];
    let (meta_conditions, meta_roles) = meta_conditions(keys, owner, expected_version);
    conditions.extend(meta_conditions);
    roles.extend(meta_roles);
    (conditions, roles)
}

/// The conditions on the meta hash: the owner (or "no owner" when none is
/// named), then the expected version if any.
pub(crate) fn meta_conditions(
    keys: &SessionKeys,
    owner: Option<&Owner>,
    expected_version: Option<u64>,
) -> (Vec<Condition>, Vec<Role>) {
    let mut conditions = Vec::with_capacity(3);
    let mut roles = Vec::with_capacity(3);
    match owner {
        Some(owner) => {
            for (field, value) in [(APP_NAME, &owner.app_name), (USER_ID, &owner.user_id)] {
                conditions.push(Condition::FieldEquals {
                    key: keys.meta.clone(),
                    field: field.into(),
                    value: value.clone(),
                });
                roles.push(Role::Owner);
            }
        }
        None => {
            conditions.push(Condition::FieldMissing { key: keys.meta.clone(), field: APP_NAME.into() });
            roles.push(Role::Unowned);
        }
    }
    match expected_version {
        Some(0) => conditions.push(Condition::FieldMissing { key: keys.meta.clone(), field: m::VERSION.into() }),
        Some(version) => conditions.push(Condition::FieldEquals {
            key: keys.meta.clone(),
            field: m::VERSION.into(),
            value: version.to_string(),
        }),
        None => {}
    }
    if expected_version.is_some() {
        roles.push(Role::Version);
    }
    (conditions, roles)
}

fn guard_error(
    role: Role,
    id: &str,
    keys: &SessionKeys,
    actual: Option<String>,
    expected_version: Option<u64>,
) -> SessionError {
    match role {
        // A session of another owner is, to this caller, no session.
        Role::Alive | Role::Owner => SessionError::NotFound(id.to_owned()),
        Role::Data | Role::Meta => SessionError::DataCorrupt(Corruption {
            session_id: id.to_owned(),
            key: if role == Role::Data { keys.data.clone() } else { keys.meta.clone() },
            field: String::new(),
            message: "the hash is missing while the session's expiry key exists".into(),
        }),
        Role::Version => SessionError::Conflict(format!(
            "session {id} is at version {}, not the expected {}",
            actual.as_deref().unwrap_or("0"),
            expected_version.unwrap_or(0)
        )),
        Role::Unowned | Role::Extra => SessionError::backend("a guard condition was misread"),
    }
}

/// The version a `HINCRBY` reply gives.
pub(crate) fn version_of(reply: Reply) -> Result<u64, SessionError> {
    Ok(reply.into_integer()?.max(0) as u64)
}
