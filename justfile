# Entry points of the project. Each recipe is also a plain cargo command, shown in the README,
# so that nothing but rustup and cargo is needed.

# Run the demo: a Hex API simulator on loopback, discovered by the bundled connector.
demo:
    cargo run --release -p euno-host -- demo

# Run every test (unit and end-to-end), in release like CI.
test:
    cargo test --release --workspace

# Format check and clippy with warnings denied.
lint:
    cargo fmt --all -- --check
    cargo clippy --release --workspace --all-targets -- -D warnings

# What CI runs on a clean clone.
ci:
    bash .ci/run
