//! Ownership: `list-by-owner` (a user's or an app's sessions, newest-updated
//! first, from the owner indexes) and `delete-with` (delete only with the
//! given owner and version). Plain `delete` runs through `delete-with`, so
//! it removes an owned session's owner-index entries too.

use std::collections::BTreeMap;

use crate::conversation::{ItemOptions, OwnedSession, Owner, OwnerPage, StateMap, validate_owner};
use crate::encoding::meta_field as m;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::{Layout, SessionKeys};
use crate::kv::{Batch, BatchOutcome, Condition, Op, Replies, Storage};
use crate::model::Corruption;
use crate::ops::guard::{APP_NAME, Role, UPDATED_AT_MS, USER_ID, meta_conditions, owner_of};
use crate::ops::items::{shared_state_reads, state_map};
use crate::ops::list::{PageToken, applied};
use crate::repository::{Repository, parse_id};
use crate::timestamp::Timestamp;

/// The meta fields an owned session's summary reads, in this order.
const SUMMARY_FIELDS: [&str; 6] = [APP_NAME, USER_ID, m::CREATED_AT, m::UPDATED_AT, UPDATED_AT_MS, m::VERSION];

/// How many times `delete-with` learns the owner and retries.
const OWNER_ATTEMPTS: usize = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn list_by_owner(
        &mut self,
        app_name: &str,
        user_id: &str,
        limit: u32,
        page_token: &str,
    ) -> Result<OwnerPage, SessionError> {
        let layout = self.settings.layout();
        let probe =
            Owner { app_name: app_name.to_owned(), user_id: if user_id.is_empty() { "-" } else { user_id }.into() };
        validate_owner(&probe).map_err(SessionError::InvalidInput)?;
        if !(1..=1000).contains(&limit) {
            return Err(SessionError::InvalidInput(format!("limit must be from 1 to 1000, not {limit}")));
        }
        let token = match page_token {
            "" => None,
            text => Some(PageToken::parse(text).map_err(SessionError::InvalidInput)?),
        };
        let groups = layout.groups().len();
        let indexes: Vec<String> = (0..groups)
            .map(|group| match user_id {
                "" => layout.app_index(group, app_name),
                user => layout.user_index(group, app_name, user),
            })
            .collect();
        let (_, entries, next_page_token) = self.index_page(&indexes, limit, 0, token.as_ref())?;

        let mut corrupt = Vec::new();
        let mut listed: Vec<(SessionId, String)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match SessionId::parse(&entry.member) {
                Ok(id) => listed.push((id, entry.index)),
                Err(message) => corrupt.push(Corruption {
                    session_id: entry.member.clone(),
                    key: entry.index,
                    field: entry.member,
                    message,
                }),
            }
        }

        // One read batch per group of the page's sessions.
        let mut by_group: Vec<(usize, Vec<usize>)> = Vec::new();
        for (position, (id, _)) in listed.iter().enumerate() {
            let group = layout.group_of(id);
            match by_group.iter_mut().find(|(g, _)| *g == group) {
                Some((_, positions)) => positions.push(position),
                None => by_group.push((group, vec![position])),
            }
        }
        let mut batches: Vec<Batch> = by_group
            .iter()
            .map(|(_, positions)| Batch {
                conditions: vec![],
                ops: positions.iter().flat_map(|&at| summary_reads(&layout.session_keys(&listed[at].0))).collect(),
            })
            .collect();
        let outcomes =
            self.storage.execute_each(std::mem::take(&mut batches)).map_err(|e| SessionError::from_kv(e, ""))?;

        let mut summaries: Vec<Option<OwnedSession>> = listed.iter().map(|_| None).collect();
        let mut dead: Vec<(SessionId, String)> = Vec::new();
        for ((_, positions), outcome) in by_group.iter().zip(outcomes) {
            let mut replies = applied(outcome)?;
            for &at in positions {
                let (id, index) = &listed[at];
                let keys = layout.session_keys(id);
                match read_summary(id, &keys, &mut replies) {
                    Ok(Some(summary))
                        if summary.app_name == app_name && (user_id.is_empty() || summary.user_id == user_id) =>
                    {
                        summaries[at] = Some(summary)
                    }
                    // Expired (cleanup has not run yet), or an id reused
                    // by another owner: not this owner's session.
                    Ok(_) => dead.push((id.clone(), index.clone())),
                    Err(SessionError::DataCorrupt(corruption)) => corrupt.push(corruption),
                    Err(other) => return Err(other),
                }
            }
        }
        self.forget_dead_entries(layout, dead)?;

        let sessions: Vec<OwnedSession> = summaries.into_iter().flatten().collect();
        let (app_state, user_states) = self.shared_states(layout, app_name, &sessions)?;
        Ok(OwnerPage { sessions, app_state, user_states, next_page_token, corrupt })
    }

    /// Removes index entries of sessions that are gone, each only while
    /// its expiry key is still missing (a re-created session keeps its).
    fn forget_dead_entries(&mut self, layout: Layout, dead: Vec<(SessionId, String)>) -> Result<(), SessionError> {
        if dead.is_empty() {
            return Ok(());
        }
        self.execute_per_session(
            dead,
            |(id, _)| Condition::KeyMissing(layout.session_keys(id).expiry),
            |(id, index)| vec![Op::SortedRemove { key: index.clone(), members: vec![id.to_string()] }],
            |_| Vec::new(),
        )?;
        Ok(())
    }

    /// The app's state and the state of each user of `sessions`.
    fn shared_states(
        &mut self,
        layout: Layout,
        app_name: &str,
        sessions: &[OwnedSession],
    ) -> Result<(StateMap, BTreeMap<String, StateMap>), SessionError> {
        let mut users: Vec<&str> = sessions.iter().map(|s| s.user_id.as_str()).collect();
        users.sort_unstable();
        users.dedup();
        let app_key = layout.app_state(app_name);
        let mut ops = vec![Op::HashGetAll(app_key.clone())];
        ops.extend(users.iter().map(|user| Op::HashGetAll(layout.user_state(app_name, user))));
        let batches: Vec<Batch> = match layout {
            Layout::Document => vec![Batch { conditions: vec![], ops }],
            Layout::Sharded { .. } => ops.into_iter().map(|op| Batch::new().op(op)).collect(),
        };
        let outcomes = self.storage.execute_each(batches).map_err(|e| SessionError::from_kv(e, ""))?;
        let mut fields = Vec::new();
        for outcome in outcomes {
            let mut replies = applied(outcome)?;
            while let Ok(reply) = replies.next_reply() {
                fields.push(reply.into_fields()?);
            }
        }
        let mut fields = fields.into_iter();
        let app_state = state_map("", &app_key, fields.next().unwrap_or_default())?;
        let mut user_states = BTreeMap::new();
        for (user, user_fields) in users.iter().zip(fields) {
            let key = layout.user_state(app_name, user);
            user_states.insert((*user).to_owned(), state_map("", &key, user_fields)?);
        }
        Ok((app_state, user_states))
    }

    pub fn delete_with(&mut self, id: &str, options: ItemOptions) -> Result<bool, SessionError> {
        let layout = self.settings.layout();
        let id = parse_id(id)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        if let Some(owner) = &options.owner {
            validate_owner(owner).map_err(SessionError::InvalidInput)?;
        }
        let hinted = options.owner.is_some();
        let mut owner = options.owner.clone();
        for _ in 0..OWNER_ATTEMPTS {
            let (conditions, roles) = meta_conditions(&keys, owner.as_ref(), options.expected_version);
            let mut ops = vec![
                Op::Delete(keys.expiry.clone()),
                Op::Delete(keys.data.clone()),
                Op::Delete(keys.meta.clone()),
                Op::Delete(keys.items.clone()),
                Op::Delete(keys.state.clone()),
                Op::SetRemove { key: keys.active.clone(), members: vec![id_text.clone()] },
                Op::SortedRemove { key: keys.index.clone(), members: vec![id_text.clone()] },
            ];
            if let Some(owner) = &owner {
                let owner_keys = layout.owner_keys(&id, owner);
                ops.push(Op::SortedRemove { key: owner_keys.user_index, members: vec![id_text.clone()] });
                ops.push(Op::SortedRemove { key: owner_keys.app_index, members: vec![id_text.clone()] });
            }
            match self.execute(Batch { conditions, ops }, &id_text)? {
                BatchOutcome::Applied(replies) => {
                    return Ok(Replies::new(replies).next_reply()?.into_integer()? == 1);
                }
                BatchOutcome::ConditionFailed { index, actual }
                    if roles.get(index as usize) == Some(&Role::Version) =>
                {
                    return Err(SessionError::Conflict(format!(
                        "session {id_text} is at version {}, not the expected {}",
                        actual.as_deref().unwrap_or("0"),
                        options.expected_version.unwrap_or(0)
                    )));
                }
                // Another owner's session (or none): nothing of ours to delete.
                BatchOutcome::ConditionFailed { .. } if hinted => return Ok(false),
                BatchOutcome::ConditionFailed { .. } => {
                    owner = self.read_meta_owner(&id, &keys)?;
                }
            }
        }
        Err(SessionError::Conflict(format!("session {id_text}'s owner kept changing while it was deleted")))
    }

    /// The owner in the meta hash, alive or not.
    fn read_meta_owner(&mut self, id: &SessionId, keys: &SessionKeys) -> Result<Option<Owner>, SessionError> {
        let batch = Batch::new()
            .op(Op::HashGetFields { key: keys.meta.clone(), fields: vec![APP_NAME.into(), USER_ID.into()] });
        let mut replies = self.execute_unconditional(batch, id.as_ref())?;
        let mut values = replies.next_reply()?.into_values()?.into_iter();
        owner_of(id, keys, values.next().flatten(), values.next().flatten())
    }

    /// The app's and user's state, for a session of `owner`.
    pub(crate) fn read_shared_state(
        &mut self,
        layout: Layout,
        owner: &Owner,
    ) -> Result<[Vec<(String, String)>; 2], SessionError> {
        let batches = shared_state_reads(layout, owner).into_iter().map(|op| Batch::new().op(op)).collect();
        let outcomes = self.storage.execute_each(batches).map_err(|e| SessionError::from_kv(e, ""))?;
        let mut fields = Vec::new();
        for outcome in outcomes {
            fields.push(applied(outcome)?.next_reply()?.into_fields()?);
        }
        let user = fields.pop().unwrap_or_default();
        let app = fields.pop().unwrap_or_default();
        Ok([app, user])
    }
}

/// PTTL of the expiry key, the summary's meta fields, the state hash.
fn summary_reads(keys: &SessionKeys) -> [Op; 3] {
    [
        Op::TtlMs(keys.expiry.clone()),
        Op::HashGetFields { key: keys.meta.clone(), fields: SUMMARY_FIELDS.iter().map(|f| (*f).to_owned()).collect() },
        Op::HashGetAll(keys.state.clone()),
    ]
}

/// Decodes [`summary_reads`]; `None` when the session is gone or has no owner.
fn read_summary(
    id: &SessionId,
    keys: &SessionKeys,
    replies: &mut Replies,
) -> Result<Option<OwnedSession>, SessionError> {
    let ttl = replies.next_reply()?.into_integer()?;
    let mut meta = replies.next_reply()?.into_values()?.into_iter();
    let state = replies.next_reply()?.into_fields()?;
    if ttl == -2 {
        return Ok(None);
    }
    let id_text = id.to_string();
    let mut next = || meta.next().flatten();
    let owner = owner_of(id, keys, next(), next())?;
    let (created_at, updated_at, updated_at_ms, version) = (next(), next(), next(), next());
    let Some(owner) = owner else { return Ok(None) };
    let corrupt = |field: &str, message: String| {
        SessionError::DataCorrupt(Corruption {
            session_id: id_text.clone(),
            key: keys.meta.clone(),
            field: field.to_owned(),
            message,
        })
    };
    let timestamp = |field: &str, value: Option<String>| match value {
        Some(text) => Timestamp::parse(&text).map_err(|message| corrupt(field, message)),
        None => Err(corrupt(field, "missing".into())),
    };
    let created_at = timestamp(m::CREATED_AT, created_at)?;
    let updated_at = timestamp(m::UPDATED_AT, updated_at)?;
    let updated_at_ms = match updated_at_ms {
        Some(text) => text.parse().map_err(|_| corrupt(UPDATED_AT_MS, format!("{text:?} is not a whole number")))?,
        None => updated_at.unix_millis(),
    };
    let version = match version {
        Some(text) => text.parse().map_err(|_| corrupt(m::VERSION, format!("{text:?} is not a whole number")))?,
        None => 0,
    };
    Ok(Some(OwnedSession {
        id: id_text.clone(),
        app_name: owner.app_name,
        user_id: owner.user_id,
        created_at,
        updated_at,
        updated_at_ms,
        version,
        state: state_map(&id_text, &keys.state, state)?,
    }))
}
