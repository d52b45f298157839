//! Runs one emulator for the benchmark: plain HTTP on the given address (default a free port on
//! 127.0.0.1), a daily API allocation no benchmark reaches, the connection JSON on stdout (one
//! line, as `forcebridge emulator` prints it), until SIGTERM or Ctrl-C.
//!
//! Invariant: nothing but that one line goes to stdout, so run.sh can read it.

use std::net::SocketAddr;

use forcebridge_emulator::{Emulator, EmulatorConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string())
        .parse()
        .map_err(|e| format!("the argument must be an address like 127.0.0.1:0: {e}"))?;
    let emulator = Emulator::start(EmulatorConfig {
        addr,
        daily_api_requests: 1_000_000_000,
        ..EmulatorConfig::default()
    })
    .await?;
    println!("{}", emulator.connection_info());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.stop().await;
    Ok(())
}
