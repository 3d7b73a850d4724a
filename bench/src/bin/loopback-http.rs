//! `loopback-http`: the floor under every HTTP request of `make bench-http`:
//! a server that answers every request with a small JSON body and does
//! nothing else (same HTTP stack as `sessions serve`: axum on hyper, one
//! tokio runtime). The bench times it with the same load generator, so the
//! cost of one loopback HTTP exchange can be added to the in-process host's
//! latency.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use clap::Parser;

/// Answer every request with `{"status":"ok"}` on --listen.
#[derive(Debug, Parser)]
#[command(name = "loopback-http")]
struct Options {
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
}

async fn answer() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    axum::serve(listener, Router::new().fallback(answer)).await?;
    Ok(())
}
