//! `--ttl`, `--grace`, `--timeout` and the serve intervals take durations
//! with units (90, 90s, 15m, 2h, 1d; 500ms where sub-second makes sense),
//! and a bad one is clap's usage error, exit 2, not a panic.

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessions"))
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("SESSIONS_PREFIX")
        .output()
        .expect("run sessions")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ttl_with_a_unit_sets_the_session_lifetime() {
    let output = run(&["--memory", "--json", "create", "--model-id", "m", "--ttl", "15m", "--timeout", "500ms"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let created: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(created["expires_in_seconds"], 900, "{created}");
}

#[test]
fn a_bad_duration_is_a_usage_error_naming_the_forms() {
    let output = run(&["--memory", "create", "--model-id", "m", "--ttl", "15x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert!(
        err.contains(
            "invalid duration '15x': use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d"
        ),
        "{err}"
    );
    assert!(err.contains("--ttl"), "names the option: {err}");
    assert!(!err.contains("panicked"), "{err}");

    for args in [&["--memory", "--timeout", "0", "health"][..], &["--memory", "serve", "--stats-interval", "10ms"]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("invalid duration"), "{}", stderr(&output));
    }
}

#[test]
fn help_says_which_forms_each_option_takes() {
    let output = run(&["--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    for option in ["--ttl <DURATION>", "--grace <DURATION>", "--timeout <DURATION>", "500ms", "15m"] {
        assert!(help.contains(option), "{option} in {help}");
    }
    let output = run(&["serve", "--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    for option in ["--cleanup-interval <DURATION>", "--stats-interval <DURATION>", "[default: 60s]"] {
        assert!(help.contains(option), "{option} in {help}");
    }
}
