//! The Pub/Sub API subscriber (gRPC `eventbus.v1.PubSub`): to come in the next step.
