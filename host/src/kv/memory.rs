//! The in-memory backend: the same batch semantics as the Redis script
//! (conditions, type checks before any write, TTLs, scans), in one process.
//! For local use, tests and embedding without Redis; state is lost on exit.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_sessions_guest::kv::{
    Batch, BatchOutcome, Condition, KeyType, KvError, Op, Reply, ScanPage, ScanRequest, rules, wire,
};

/// How many batches run between two sweeps of expired keys; reads already
/// ignore expired keys, the sweep only gives their memory back.
const SWEEP_EVERY: u64 = 1024;

/// Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    // A std mutex: a batch never awaits while holding it, and one lock per
    // batch is what makes the batch atomic.
    state: Arc<Mutex<State>>,
    clock: Clock,
}

/// Where TTLs take their time from.
#[derive(Clone, Default)]
enum Clock {
    #[default]
    System,
    Manual(ManualClock),
}

/// A clock that only moves when told to, so tests can expire sessions
/// without waiting. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self { start: Instant::now(), offset: Arc::new(Mutex::new(Duration::ZERO)) }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }

    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    batches: u64,
}

struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

enum Value {
    /// Strings hold nothing the layout reads back (the expiry key is "").
    String,
    Hash(BTreeMap<String, String>),
    Set(BTreeSet<String>),
    Sorted(SortedSet),
    List(VecDeque<String>),
}

/// Members by name (for scans and scores) and by (score, name) (for ranks),
/// ordered as Redis orders them.
#[derive(Default)]
struct SortedSet {
    scores: BTreeMap<String, f64>,
    ranked: BTreeSet<(Score, String)>,
}

/// A score with a total order (scores are finite; the host checks that).
#[derive(Clone, Copy)]
struct Score(f64);

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Score {}

impl Value {
    fn key_type(&self) -> KeyType {
        match self {
            Value::String => KeyType::String,
            Value::Hash(_) => KeyType::Hash,
            Value::Set(_) => KeyType::Set,
            Value::Sorted(_) => KeyType::SortedSet,
            Value::List(_) => KeyType::List,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::String => false,
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
            Value::Sorted(sorted) => sorted.scores.is_empty(),
            Value::List(list) => list.is_empty(),
        }
    }
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose TTLs follow `clock` instead of the system clock.
    pub fn with_clock(clock: ManualClock) -> Self {
        Self { state: Arc::default(), clock: Clock::Manual(clock) }
    }

    fn now(&self) -> Instant {
        match &self.clock {
            Clock::System => Instant::now(),
            Clock::Manual(clock) => clock.now(),
        }
    }

    /// Removes one key at once, as if it had expired (for tests).
    pub fn remove_key(&self, key: &str) -> bool {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entries.remove(key).is_some()
    }

    /// Keys currently held (expired ones included until swept), sorted.
    pub fn keys(&self) -> Vec<String> {
        let now = self.now();
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut keys: Vec<String> = state
            .entries
            .iter()
            .filter(|(_, entry)| entry.expires_at.is_none_or(|at| at > now))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys
    }

    /// `kv.execute` on this store, as the script does it on Redis: unpack
    /// the batch, check the rules, prefix every key (and scan pattern), run
    /// it, and pack the reply with keys unprefixed.
    pub fn execute_packed(&self, keys: &str, prefix: &str, batch: &str) -> String {
        let relative: Vec<String> = super::prefixed(keys, "");
        let outcome = wire::decode_batch(&relative, batch).and_then(|unprefixed| {
            // The rules name keys as the guest wrote them.
            rules::check(&unprefixed)?;
            let mut batch = wire::decode_batch(&super::prefixed(keys, prefix), batch)?;
            for op in &mut batch.ops {
                if let Op::KeyScan(scan) = op {
                    scan.pattern = format!("{}{}", super::escape_glob(prefix), scan.pattern);
                }
            }
            let strip = |key: &mut String| {
                if let Some(rest) = key.strip_prefix(prefix) {
                    *key = rest.to_owned();
                }
            };
            match self.execute(&batch) {
                Ok(BatchOutcome::Applied(mut replies)) => {
                    for (op, reply) in batch.ops.iter().zip(&mut replies) {
                        if let (Op::KeyScan(_), Reply::Scan(page)) = (op, reply) {
                            page.members.iter_mut().for_each(strip);
                        }
                    }
                    Ok(BatchOutcome::Applied(replies))
                }
                Err(mut error) => {
                    strip(&mut error.key);
                    Err(error)
                }
                other => other,
            }
        });
        wire::encode_reply(&outcome)
    }

    /// Applies a typed batch whose keys are final (prefixed); the batch
    /// rules are the caller's to check.
    pub fn execute(&self, batch: &Batch) -> Result<BatchOutcome, KvError> {
        let now = self.now();
        // A panic while holding the lock cannot leave a half-applied batch
        // behind (checks run before writes), so a poisoned lock is still usable.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.batches += 1;
        if state.batches.is_multiple_of(SWEEP_EVERY) {
            state.entries.retain(|_, entry| entry.expires_at.is_none_or(|at| at > now));
        }
        state.drop_expired(batch, now);

        for (index, condition) in batch.conditions.iter().enumerate() {
            if let Some(actual) = state.failed_condition(condition) {
                return Ok(BatchOutcome::ConditionFailed { index: index as u32, actual });
            }
        }
        for op in &batch.ops {
            if let (Some(wanted), Some(entry)) = (op.key_type(), state.entries.get(op.key())) {
                let found = entry.value.key_type();
                if found != wanted {
                    return Err(KvError::wrong_type(
                        op.key(),
                        format!("the key holds a {}, not a {}", found.redis_name(), wanted.redis_name()),
                    ));
                }
            }
        }
        // HINCRBY on a non-integer is the one op that can fail after checks;
        // check it up front as well, so nothing is half-written.
        for op in &batch.ops {
            if let Op::HashIncrement { key, field, .. } = op
                && let Some(Value::Hash(hash)) = state.entries.get(key).map(|e| &e.value)
                && let Some(text) = hash.get(field)
                && text.parse::<i64>().is_err()
            {
                return Err(KvError::wrong_type(key, format!("field {field} holds \"{text}\", not an integer")));
            }
        }
        let replies = batch.ops.iter().map(|op| state.apply(op, now)).collect::<Result<_, _>>()?;
        Ok(BatchOutcome::Applied(replies))
    }
}

impl State {
    /// Removes expired keys the batch names, so the rest sees them missing.
    fn drop_expired(&mut self, batch: &Batch, now: Instant) {
        let condition_keys = batch.conditions.iter().map(Condition::key);
        let keys: Vec<String> = condition_keys.chain(batch.ops.iter().map(Op::key)).map(str::to_owned).collect();
        for key in keys {
            if self.entries.get(&key).is_some_and(|e| e.expires_at.is_some_and(|at| at <= now)) {
                self.entries.remove(&key);
            }
        }
    }

    /// `None` when the condition holds, else the value to report. As in
    /// the script, a field or length condition on a key of another type
    /// fails with no value.
    fn failed_condition(&self, condition: &Condition) -> Option<Option<String>> {
        let value = self.value(condition.key());
        match (condition, value) {
            (Condition::KeyExists(_), _) => value.is_none().then_some(None),
            (Condition::KeyMissing(_), _) => value.is_some().then_some(None),
            (Condition::FieldEquals { .. } | Condition::FieldMissing { .. }, Some(other))
                if !matches!(other, Value::Hash(_)) =>
            {
                Some(None)
            }
            (Condition::FieldEquals { field, value: wanted, .. }, hash) => {
                let actual = field_in(hash, field);
                (actual.as_ref() != Some(wanted)).then_some(actual)
            }
            (Condition::FieldMissing { field, .. }, hash) => field_in(hash, field).map(Some),
            (Condition::ListLength { min, max, .. }, value) => {
                let length = match value {
                    None => 0,
                    Some(Value::List(list)) => list.len() as u64,
                    Some(_) => return Some(None),
                };
                (!(*min..=*max).contains(&length)).then(|| Some(length.to_string()))
            }
        }
    }

    /// Fails only when an earlier op of the same batch gave the key another
    /// type (the batch validation in `kv` rejects such batches up front).
    fn apply(&mut self, op: &Op, now: Instant) -> Result<Reply, KvError> {
        Ok(match op {
            Op::HashGetAll(key) => Reply::Fields(match self.value(key) {
                Some(Value::Hash(hash)) => hash.iter().map(|(f, v)| (f.clone(), v.clone())).collect(),
                _ => Vec::new(),
            }),
            Op::HashGet { key, field } => Reply::Text(match self.value(key) {
                Some(Value::Hash(hash)) => hash.get(field).cloned(),
                _ => None,
            }),
            Op::HashGetFields { key, fields } => Reply::Values(match self.value(key) {
                Some(Value::Hash(hash)) => fields.iter().map(|field| hash.get(field).cloned()).collect(),
                _ => vec![None; fields.len()],
            }),
            Op::HashSet { key, fields } => {
                let hash = self.hash_mut(key)?;
                let added = fields.iter().filter(|(f, v)| hash.insert(f.clone(), v.clone()).is_none()).count();
                Reply::Integer(added as i64)
            }
            Op::HashIncrement { key, field, delta } => {
                let hash = self.hash_mut(key)?;
                let current = hash.get(field).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                let new = current.saturating_add(*delta);
                hash.insert(field.clone(), new.to_string());
                Reply::Integer(new)
            }
            Op::StringSet { key, ttl_ms, .. } => {
                let expires_at = ttl_ms.map(|ms| now + Duration::from_millis(ms));
                self.entries.insert(key.clone(), Entry { value: Value::String, expires_at });
                Reply::Integer(1)
            }
            Op::Exists(key) => Reply::Integer(i64::from(self.entries.contains_key(key))),
            Op::TtlMs(key) => Reply::Integer(match self.entries.get(key) {
                None => -2,
                Some(Entry { expires_at: None, .. }) => -1,
                Some(Entry { expires_at: Some(at), .. }) => at.saturating_duration_since(now).as_millis() as i64,
            }),
            Op::Expire { key, ttl_ms } => Reply::Integer(match self.entries.get_mut(key) {
                Some(entry) => {
                    entry.expires_at = Some(now + Duration::from_millis(*ttl_ms));
                    1
                }
                None => 0,
            }),
            Op::Delete(key) => Reply::Integer(i64::from(self.entries.remove(key).is_some())),
            Op::SetAdd { key, members } => {
                let Value::Set(set) = &mut self.entry_or_insert(key, || Value::Set(BTreeSet::new())).value else {
                    return Err(changed_type(key));
                };
                Reply::Integer(members.iter().filter(|m| set.insert((*m).clone())).count() as i64)
            }
            Op::SetRemove { key, members } => {
                let removed = match self.value_mut(key) {
                    Some(Value::Set(set)) => members.iter().filter(|m| set.remove(*m)).count(),
                    _ => 0,
                };
                self.remove_if_empty(key);
                Reply::Integer(removed as i64)
            }
            Op::SetSize(key) => Reply::Integer(match self.value(key) {
                Some(Value::Set(set)) => set.len() as i64,
                _ => 0,
            }),
            Op::SetScan(scan) => Reply::Scan(match self.value(&scan.key) {
                Some(Value::Set(set)) => scan_page(set.iter(), scan),
                _ => ScanPage { cursor: "0".into(), members: vec![] },
            }),
            Op::SortedAdd { key, members } => {
                let Value::Sorted(sorted) =
                    &mut self.entry_or_insert(key, || Value::Sorted(SortedSet::default())).value
                else {
                    return Err(changed_type(key));
                };
                let mut added = 0;
                for (score, member) in members {
                    if let Some(old) = sorted.scores.insert(member.clone(), *score) {
                        sorted.ranked.remove(&(Score(old), member.clone()));
                    } else {
                        added += 1;
                    }
                    sorted.ranked.insert((Score(*score), member.clone()));
                }
                Reply::Integer(added)
            }
            Op::SortedRemove { key, members } => {
                let mut removed = 0;
                if let Some(Value::Sorted(sorted)) = self.value_mut(key) {
                    for member in members {
                        if let Some(score) = sorted.scores.remove(member) {
                            sorted.ranked.remove(&(Score(score), member.clone()));
                            removed += 1;
                        }
                    }
                }
                self.remove_if_empty(key);
                Reply::Integer(removed)
            }
            Op::SortedSize(key) => Reply::Integer(match self.value(key) {
                Some(Value::Sorted(sorted)) => sorted.scores.len() as i64,
                _ => 0,
            }),
            Op::SortedScore { key, member } => Reply::Text(match self.value(key) {
                Some(Value::Sorted(sorted)) => sorted.scores.get(member).map(|score| format_score(*score)),
                _ => None,
            }),
            Op::SortedRangeDesc { key, start, stop } => Reply::Scored(match self.value(key) {
                Some(Value::Sorted(sorted)) if start <= stop => {
                    let take = usize::try_from(stop - start).unwrap_or(usize::MAX).saturating_add(1);
                    let skip = usize::try_from(*start).unwrap_or(usize::MAX);
                    sorted.ranked.iter().rev().skip(skip).take(take).map(|(s, m)| (m.clone(), s.0)).collect()
                }
                _ => Vec::new(),
            }),
            Op::SortedRangeByScoreDesc { key, max, min, limit } => Reply::Scored(match self.value(key) {
                Some(Value::Sorted(sorted)) => {
                    let (skip, take) = limit.map_or((0, usize::MAX), |(offset, count)| {
                        (usize::try_from(offset).unwrap_or(usize::MAX), usize::try_from(count).unwrap_or(usize::MAX))
                    });
                    sorted
                        .ranked
                        .iter()
                        .rev()
                        .skip_while(|(score, _)| !max.admits_below(score.0))
                        .take_while(|(score, _)| min.admits_above(score.0))
                        .skip(skip)
                        .take(take)
                        .map(|(s, m)| (m.clone(), s.0))
                        .collect()
                }
                _ => Vec::new(),
            }),
            Op::SortedScan(scan) => Reply::Scan(match self.value(&scan.key) {
                Some(Value::Sorted(sorted)) => scan_page(sorted.scores.keys(), scan),
                _ => ScanPage { cursor: "0".into(), members: vec![] },
            }),
            Op::SetContains { key, member } => Reply::Integer(match self.value(key) {
                Some(Value::Set(set)) => i64::from(set.contains(member)),
                _ => 0,
            }),
            Op::HashDelete { key, fields } => {
                let removed = match self.value_mut(key) {
                    Some(Value::Hash(hash)) => fields.iter().filter(|field| hash.remove(*field).is_some()).count(),
                    _ => 0,
                };
                self.remove_if_empty(key);
                Reply::Integer(removed as i64)
            }
            Op::ListPush { key, values } => {
                let Value::List(list) = &mut self.entry_or_insert(key, || Value::List(VecDeque::new())).value else {
                    return Err(changed_type(key));
                };
                list.extend(values.iter().cloned());
                Reply::Integer(list.len() as i64)
            }
            Op::ListRangeTail { key, start, stop, max_bytes } => {
                let (left_out, items) = match self.value(key) {
                    Some(Value::List(list)) => {
                        let range = list_range(list.len(), *start, *stop);
                        let kept = newest_within(list.range(range.clone()).map(String::len), *max_bytes);
                        let items = list.range(range.end - kept..range.end).cloned().collect();
                        ((range.len() - kept) as u64, items)
                    }
                    _ => (0, Vec::new()),
                };
                Reply::ListTail { left_out, items }
            }
            Op::ListPopLast(key) => {
                let popped = match self.value_mut(key) {
                    Some(Value::List(list)) => list.pop_back(),
                    _ => None,
                };
                self.remove_if_empty(key);
                Reply::Text(popped)
            }
            Op::ListTrim { key, start, stop } => {
                if let Some(Value::List(list)) = self.value_mut(key) {
                    let range = list_range(list.len(), *start, *stop);
                    list.truncate(range.end);
                    list.drain(..range.start);
                }
                self.remove_if_empty(key);
                Reply::Integer(1)
            }
            Op::ListLength(key) => Reply::Integer(match self.value(key) {
                Some(Value::List(list)) => list.len() as i64,
                _ => 0,
            }),
            Op::KeyScan(scan) => {
                let mut keys: Vec<&String> = self
                    .entries
                    .iter()
                    .filter(|(key, entry)| {
                        entry.expires_at.is_none_or(|at| at > now) && glob_matches(&scan.pattern, key)
                    })
                    .map(|(key, _)| key)
                    .collect();
                keys.sort();
                let request = ScanRequest { key: String::new(), cursor: scan.cursor.clone(), count: scan.count };
                Reply::Scan(scan_page(keys.into_iter(), &request))
            }
        })
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.entries.get(key).map(|entry| &entry.value)
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.get_mut(key).map(|entry| &mut entry.value)
    }

    fn entry_or_insert(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Entry {
        self.entries.entry(key.to_owned()).or_insert_with(|| Entry { value: make(), expires_at: None })
    }

    fn hash_mut(&mut self, key: &str) -> Result<&mut BTreeMap<String, String>, KvError> {
        match &mut self.entry_or_insert(key, || Value::Hash(BTreeMap::new())).value {
            Value::Hash(hash) => Ok(hash),
            _ => Err(changed_type(key)),
        }
    }

    /// Redis deletes a hash, set, sorted set or list when its last member
    /// goes.
    fn remove_if_empty(&mut self, key: &str) {
        if self.value(key).is_some_and(Value::is_empty) {
            self.entries.remove(key);
        }
    }
}

fn field_in(value: Option<&Value>, field: &str) -> Option<String> {
    match value {
        Some(Value::Hash(hash)) => hash.get(field).cloned(),
        _ => None,
    }
}

/// The positions a list range or trim takes from `start` `stop` on a list of
/// `len` items: negative indexes count from the end, out-of-range ones are
/// clamped, and a range that ends before it starts is empty.
fn list_range(len: usize, start: i64, stop: i64) -> std::ops::Range<usize> {
    let len = len as i128;
    let from_end = |index: i64| if index < 0 { len + i128::from(index) } else { i128::from(index) };
    let start = from_end(start).max(0);
    let stop = from_end(stop).min(len - 1);
    if start > stop {
        return 0..0;
    }
    start as usize..stop as usize + 1
}

/// How many of the last items (sizes oldest first) fit in `max_bytes`,
/// newest first; at least one when there are any.
fn newest_within(sizes: impl DoubleEndedIterator<Item = usize>, max_bytes: u64) -> usize {
    let mut total: u64 = 0;
    let mut kept = 0;
    for size in sizes.rev() {
        total = total.saturating_add(size as u64);
        if kept > 0 && total > max_bytes {
            break;
        }
        kept += 1;
    }
    kept
}

fn changed_type(key: &str) -> KvError {
    KvError::wrong_type(key, "an earlier op of the same batch gave the key another type")
}

/// Scores as Redis prints them: whole numbers without a fraction.
fn format_score(score: f64) -> String {
    if score.fract() == 0.0 && score.abs() < 1e17 { format!("{}", score as i64) } else { score.to_string() }
}

/// One page of members in name order after the cursor. The cursor is the
/// last member returned, so members added or removed meanwhile never make
/// the scan skip a member that stays (Redis gives the same guarantee).
fn scan_page<'a>(members: impl Iterator<Item = &'a String>, scan: &ScanRequest) -> ScanPage {
    let after = scan.cursor.strip_prefix("after:");
    let count = scan.count.max(1) as usize;
    let mut page: Vec<String> =
        members.filter(|m| after.is_none_or(|a| m.as_str() > a)).take(count + 1).cloned().collect();
    let more = page.len() > count;
    page.truncate(count);
    let cursor = match (more, page.last()) {
        (true, Some(last)) => format!("after:{last}"),
        _ => "0".to_owned(),
    };
    ScanPage { cursor, members: page }
}

/// Redis' glob matching as SCAN MATCH uses it, for the patterns the guest
/// and the host build: `*`, `?` and `\\` escapes (character classes match
/// literally).
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Positions to resume from after the last `*`: classic greedy matching
    // with backtracking to the most recent star, O(pattern × text).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some('?') => {
                p += 1;
                t += 1;
                continue;
            }
            Some('\\') if pattern.get(p + 1) == Some(&text[t]) => {
                p += 2;
                t += 1;
                continue;
            }
            Some(c) if *c != '\\' && *c == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod glob_tests {
    use super::glob_matches;

    #[test]
    fn globs_match_as_redis_does() {
        assert!(glob_matches("session:*:meta", "session:abc:meta"));
        assert!(!glob_matches("session:*:meta", "session:abc:data"));
        assert!(glob_matches("session_expiry:*", "session_expiry:x"));
        assert!(glob_matches("a\\*b*", "a*bcd"));
        assert!(!glob_matches("a\\*b*", "axbcd"));
        assert!(glob_matches("s?x", "sax"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("session:*", "tenant:session:x"));
    }
}
