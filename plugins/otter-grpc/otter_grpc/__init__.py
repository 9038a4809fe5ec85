"""otter-grpc: the node-to-node pipes of otter for Python (RPC pipe for small batches, file pipe for big
batches and row files) over gRPC, authenticated by a shared token and/or mutual TLS."""
