//! The `kv` and `config` WIT imports, implemented for the per-call host state
//! by converting between the generated WIT types and the `kv` vocabulary.

use agent_sessions_guest::kv::{self as core, Batch, BatchOutcome, Condition, Op, Reply};

use crate::bindings::{WitSettings, agent, wit_kv as w};
use crate::runtime::HostState;

impl agent::sessions::types::Host for HostState {}

impl agent::sessions::config::Host for HostState {
    fn get_settings(&mut self) -> wasmtime::Result<WitSettings> {
        self.computing_since = std::time::Instant::now();
        Ok(WitSettings {
            session_ttl_seconds: self.settings.session_ttl_seconds,
            grace_seconds: self.settings.grace_seconds,
            batch_size: self.settings.batch_size,
        })
    }
}

impl w::Host for HostState {
    async fn execute(&mut self, batch: w::Batch) -> wasmtime::Result<Result<w::BatchOutcome, w::KvError>> {
        let batch = batch_from_wit(batch);
        self.round_trips += 1;
        let outcome = self.kv.execute(&batch).await;
        // Time waiting for storage is not the guest's CPU time.
        self.computing_since = std::time::Instant::now();
        Ok(match outcome {
            Ok(BatchOutcome::Applied(replies)) => {
                Ok(w::BatchOutcome::Applied(replies.into_iter().map(reply_to_wit).collect()))
            }
            Ok(BatchOutcome::ConditionFailed { index, actual }) => {
                Ok(w::BatchOutcome::ConditionFailed(w::ConditionFailure { index, actual }))
            }
            Err(error) => {
                self.last_storage_failure = Some(error.kind);
                Err(w::KvError { kind: kind_to_wit(error.kind), key: error.key, message: error.message })
            }
        })
    }
}

fn kind_to_wit(kind: core::ErrorKind) -> w::ErrorKind {
    match kind {
        core::ErrorKind::Unavailable => w::ErrorKind::Unavailable,
        core::ErrorKind::Timeout => w::ErrorKind::Timeout,
        core::ErrorKind::WrongType => w::ErrorKind::WrongType,
        core::ErrorKind::InvalidBatch => w::ErrorKind::InvalidBatch,
        core::ErrorKind::Other => w::ErrorKind::Other,
    }
}

fn batch_from_wit(batch: w::Batch) -> Batch {
    Batch {
        conditions: batch
            .conditions
            .into_iter()
            .map(|condition| match condition {
                w::Condition::KeyExists(key) => Condition::KeyExists(key),
                w::Condition::KeyMissing(key) => Condition::KeyMissing(key),
                w::Condition::FieldEquals(c) => Condition::FieldEquals { key: c.key, field: c.field, value: c.value },
                w::Condition::FieldMissing(c) => Condition::FieldMissing { key: c.key, field: c.field },
            })
            .collect(),
        ops: batch.ops.into_iter().map(op_from_wit).collect(),
    }
}

fn scan(request: w::ScanRequest) -> core::ScanRequest {
    core::ScanRequest { key: request.key, cursor: request.cursor, count: request.count }
}

fn op_from_wit(op: w::Op) -> Op {
    match op {
        w::Op::HashGetAll(key) => Op::HashGetAll(key),
        w::Op::HashGet(f) => Op::HashGet { key: f.key, field: f.field },
        w::Op::HashGetFields(f) => Op::HashGetFields { key: f.key, fields: f.fields },
        w::Op::HashSet(write) => {
            Op::HashSet { key: write.key, fields: write.fields.into_iter().map(|f| (f.field, f.value)).collect() }
        }
        w::Op::HashIncrement(i) => Op::HashIncrement { key: i.key, field: i.field, delta: i.delta },
        w::Op::StringSet(s) => Op::StringSet { key: s.key, value: s.value, ttl_ms: s.ttl_ms },
        w::Op::Exists(key) => Op::Exists(key),
        w::Op::TtlMs(key) => Op::TtlMs(key),
        w::Op::Expire(e) => Op::Expire { key: e.key, ttl_ms: e.ttl_ms },
        w::Op::Delete(key) => Op::Delete(key),
        w::Op::SetAdd(m) => Op::SetAdd { key: m.key, members: m.members },
        w::Op::SetRemove(m) => Op::SetRemove { key: m.key, members: m.members },
        w::Op::SetSize(key) => Op::SetSize(key),
        w::Op::SetScan(s) => Op::SetScan(scan(s)),
        w::Op::SortedAdd(m) => {
            Op::SortedAdd { key: m.key, members: m.members.into_iter().map(|m| (m.score, m.member)).collect() }
        }
        w::Op::SortedRemove(m) => Op::SortedRemove { key: m.key, members: m.members },
        w::Op::SortedSize(key) => Op::SortedSize(key),
        w::Op::SortedScore(m) => Op::SortedScore { key: m.key, member: m.member },
        w::Op::SortedRangeDesc(r) => Op::SortedRangeDesc { key: r.key, start: r.start, stop: r.stop },
        w::Op::SortedScan(s) => Op::SortedScan(scan(s)),
        w::Op::SetContains(m) => Op::SetContains { key: m.key, member: m.member },
        w::Op::KeyScan(s) => Op::KeyScan(core::KeyScanRequest { pattern: s.pattern, cursor: s.cursor, count: s.count }),
    }
}

fn reply_to_wit(reply: Reply) -> w::Reply {
    match reply {
        Reply::Integer(value) => w::Reply::Integer(value),
        Reply::Text(value) => w::Reply::Text(value),
        Reply::Texts(values) => w::Reply::Texts(values),
        Reply::Fields(fields) => {
            w::Reply::Fields(fields.into_iter().map(|(field, value)| w::FieldValue { field, value }).collect())
        }
        Reply::Values(values) => w::Reply::Values(values),
        Reply::Scan(page) => w::Reply::Scan(w::ScanPage { cursor: page.cursor, members: page.members }),
    }
}
