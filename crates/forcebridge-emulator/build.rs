//! Generates the `eventbus.v1` gRPC server code from the workspace's one copy of the Pub/Sub API
//! proto, parsed by protox (no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/eventbus/v1/pubsub_api.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["../../proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
