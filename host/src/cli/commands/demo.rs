//! `sessions demo`: a whole session lifecycle, narrated, against whatever
//! storage the global options name. It removes what it creates.

use std::time::{Duration, Instant};

use agent_sessions_host::{Error, SessionCreate, SessionUpdate, Settings};
use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// How long the expiry step asks before it gives up; a 1 s TTL needs only
/// a little more than 1 s, this is for a machine under heavy load.
const EXPIRY_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Run a whole session lifecycle and narrate each step.
#[derive(Debug, Args)]
pub struct Demo {}

impl Demo {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        narrate(context).await?;
        Ok(Finding::Done)
    }
}

async fn narrate(context: &Context) -> Result<(), Failure> {
    let store = &context.store;
    let mut step = 0;
    let mut say = |text: &str| {
        step += 1;
        outln!("\n{step}. {text}");
    };
    outln!("agent-sessions demo against {} (key prefix {:?})", store.storage_description(), store.prefix());

    say("Create a session, as the design document's example");
    // The example is a fixture (schema/examples/), not a list of fields here.
    let session = store.create(SessionCreate::example()).await?;
    let id = session.id.clone();
    out!("{}", indent(&output::session_text(&session)));
    outln!(
        "   Redis now holds session:{id}:data and session:{id}:meta (hashes), session_expiry:{id} \
         (TTL {} s), and the id in active_sessions and session_index.",
        store.settings().session_ttl_seconds
    );

    say("Read it back (one round trip)");
    let read = store.get(&id).await?;
    outln!(
        "   model {} / persona {} / version {}",
        read.data.model_id,
        read.data.persona_id.as_deref().unwrap_or("-"),
        read.meta.version
    );

    say("Update temperature and status, expecting version 1 (compare-and-set)");
    let updated = store
        .update(
            &id,
            SessionUpdate {
                temperature: Some(0.2),
                status: Some("paused".into()),
                expected_version: Some(1),
                ..SessionUpdate::default()
            },
        )
        .await?;
    outln!(
        "   temperature {} / status {} / is_active {} / version {}",
        updated.data.temperature.unwrap_or_default(),
        updated.meta.status,
        updated.meta.is_active,
        updated.meta.version
    );

    say("Update again with the stale version 1: refused, nothing written");
    match store
        .update(
            &id,
            SessionUpdate { name: Some("lost update".into()), expected_version: Some(1), ..SessionUpdate::default() },
        )
        .await
    {
        Err(Error::Conflict(message)) => outln!("   conflict, as expected: {message}"),
        other => outln!("   unexpected: {other:?}"),
    }

    say("Bad input gets a typed error");
    match store
        .create(SessionCreate { model_id: "gpt-4".into(), temperature: Some(7.0), ..SessionCreate::default() })
        .await
    {
        Err(Error::InvalidInput(message)) => outln!("   invalid input: {message}"),
        other => outln!("   unexpected: {other:?}"),
    }

    say("List sessions, newest first");
    let page = store.list(5, 0).await?;
    outln!("   {} session(s) indexed; first page holds {}", page.total, page.sessions.len());

    say("Extend the TTL on activity");
    let extended = store.extend_ttl(&id).await?;
    outln!("   extended: {extended}; expires in {} s again", store.settings().session_ttl_seconds);

    say("Delete it: every key and index entry goes in one atomic batch");
    outln!("   deleted: {}", store.delete(&id).await?);
    match store.get(&id).await {
        Err(Error::NotFound(_)) => outln!("   get now says: not found"),
        other => outln!("   unexpected: {other:?}"),
    }

    say("Expiry: a session with a 1 s TTL");
    let short_lived = store.with_settings(Settings { session_ttl_seconds: 1, ..store.settings() })?;
    let session = short_lived.create(SessionCreate { model_id: "gpt-4".into(), ..SessionCreate::default() }).await?;
    outln!("   created {}; asking for it until its expiry key is gone", session.id);
    // No fixed sleep: storage expires the key after 1 s by its own clock, and
    // this asks until it has, however slowly a loaded machine gets there.
    // The bound is only there so a storage that never expires cannot hang the demo.
    let asked = Instant::now();
    loop {
        match short_lived.get(&session.id).await {
            Err(Error::NotFound(_)) => {
                outln!("   get says not found as soon as the expiry key is gone");
                break;
            }
            Ok(_) if asked.elapsed() < EXPIRY_WAIT_LIMIT => tokio::time::sleep(Duration::from_millis(100)).await,
            other => {
                outln!("   unexpected after {:.1} s: {other:?}", asked.elapsed().as_secs_f64());
                break;
            }
        }
    }
    let removed = short_lived.cleanup_expired().await?.removed;
    outln!("   cleanup removed {removed} expired session(s) and their hashes, set members and index entries");

    outln!("\ndone.");
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}
