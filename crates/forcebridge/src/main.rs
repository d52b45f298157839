//! `forcebridge`: the binary. Wiring only — argument parsing, environment, logging — around the
//! library crates. Only this crate reads argv and environment variables.

mod cmd_demo;
mod cmd_emulator;
mod cmd_recipe;
mod cmd_recipe_run;
mod cmd_serve;
mod cmd_store;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Self-hosted Salesforce integration engine, with a local Salesforce emulator built in.
#[derive(Debug, Parser)]
#[command(name = "forcebridge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Salesforce emulator (OAuth, REST, SOQL) until interrupted.
    Emulator(cmd_emulator::Args),
    /// Apply the store's database migrations (SQLite or PostgreSQL) and exit.
    Migrate(cmd_store::MigrateArgs),
    /// Master-key tasks: make a new key, rotate stored credentials to it.
    Vault(cmd_store::VaultArgs),
    /// Recipe author's tools: check, plan, dry-run and test recipes.
    Recipe(cmd_recipe::Args),
    /// Run the HTTP API (tenants, connections, events, webhooks) and the engine's workers.
    Serve(Box<cmd_serve::Args>),
    /// The whole product on this machine: the emulator, the server, and every recipe's demo
    /// connected, installed and fed realistic events.
    Demo(cmd_demo::Args),
}

/// Errors end the process with status 1 and one line on stderr — the error and its causes, outer
/// first — and no backtrace even when `RUST_BACKTRACE` is set: these messages are for operators.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Many causes repeat their source's text in their own (`database error: {0}`); print
            // each text once.
            let mut line = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !line.contains(&text) {
                    if !line.is_empty() {
                        line.push_str(": ");
                    }
                    line.push_str(&text);
                }
            }
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    // rustls must have exactly one crypto provider; install aws-lc-rs before anything uses TLS.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let filter = |default: &str| {
        tracing_subscriber::EnvFilter::try_from_env("FORCEBRIDGE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    // `serve` logs JSON lines (with request ids) for log collectors; the tools log plain text.
    if matches!(cli.command, Command::Serve(_)) {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter("info"))
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter("warn"))
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => cmd_emulator::run(args).await,
            Command::Migrate(args) => cmd_store::migrate(args).await,
            Command::Vault(args) => cmd_store::vault(args).await,
            Command::Recipe(args) => cmd_recipe::run(args).await,
            Command::Serve(args) => cmd_serve::run(*args).await,
            Command::Demo(args) => cmd_demo::run(args).await,
        }
    })
}
