//! A throwaway `redis-server` for one test: a free port on 127.0.0.1, no
//! persistence, stopped when dropped. Tests never share one and never rely
//! on a server already running.
//!
//! Also included by `host/tests/cli.rs` (with `#[path]`), so it depends on
//! nothing but std and the `redis` crate.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    port: u16,
    url: String,
    tls_ca: Option<Vec<u8>>,
}

/// How to start a server: extra configuration, credentials, TLS.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra `redis-server` arguments, e.g. `["--requirepass", "secret"]`.
    pub args: Vec<String>,
    /// `user:password` to put into the URL (also used for the PING check).
    pub credentials: Option<String>,
    /// Serve TLS only, with these PEM files.
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub ca: std::path::PathBuf,
}

/// What to do when `program` (`redis-server`, `redis-cli`) is missing.
pub fn install_hint(program: &str) -> String {
    format!(
        "{program} was not found on PATH. The integration tests start their own \
        Redis servers and need it: install it with `sudo apt-get install redis-server` (Debian/Ubuntu), \
        `brew install redis` (macOS), or run `make setup`."
    )
}

/// Starts `command` (a `redis-server` and its arguments) with its output
/// discarded; panics with install instructions when it is missing (tests
/// fail, never skip).
pub fn spawn_server(command: &mut Command) -> Child {
    match command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", install_hint("redis-server")),
        Err(e) => panic!("could not start redis-server: {e}"),
    }
}

impl RedisServer {
    /// Starts a server; panics with install instructions when `redis-server`
    /// is missing (tests fail, never skip).
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server with extra configuration, credentials or TLS.
    pub fn start_with(options: ServerOptions) -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let port_args: Vec<String> = match &options.tls {
                None => vec!["--port".into(), port.to_string()],
                Some(tls) => vec![
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                    "--tls-cert-file".into(),
                    tls.cert.display().to_string(),
                    "--tls-key-file".into(),
                    tls.key.display().to_string(),
                    "--tls-ca-cert-file".into(),
                    tls.ca.display().to_string(),
                    "--tls-auth-clients".into(),
                    "no".into(),
                ],
            };
            let child = spawn_server(
                Command::new("redis-server")
                    .args(&port_args)
                    .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                    .args(["--daemonize", "no", "--loglevel", "warning"])
                    .args(&options.args)
                    .arg("--dir")
                    .arg(std::env::temp_dir()),
            );
            let scheme = if options.tls.is_some() { "rediss" } else { "redis" };
            let auth = options.credentials.as_ref().map(|c| format!("{c}@")).unwrap_or_default();
            let tls_ca = options.tls.as_ref().map(|tls| std::fs::read(&tls.ca).expect("read the test CA"));
            let url = format!("{scheme}://{auth}127.0.0.1:{port}");
            let mut server = RedisServer { child, port, url, tls_ca };
            match server.wait_until_ready() {
                Ok(()) => return server,
                // Another process may have taken the port in between; retry.
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("redis-server exited with {status}"));
            }
            if let Ok(mut connection) = self.client().and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut connection).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no answer to PING within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`, with credentials and `rediss` as configured.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn client(&self) -> redis::RedisResult<redis::Client> {
        match &self.tls_ca {
            None => redis::Client::open(self.url()),
            Some(ca) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(ca.clone()) };
                redis::Client::build_with_tls(self.url(), certificates)
            }
        }
    }

    /// A plain synchronous connection, for reading Redis directly.
    pub fn connection(&self) -> redis::Connection {
        self.client().and_then(|c| c.get_connection()).expect("connect to the test redis-server")
    }

    /// Stops the server now (the port stays unused until it is dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("find a free port on 127.0.0.1")
}
