//! `sessions`: the agent-sessions command line. See `sessions --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
