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

# Fuzz the Hex JSON mapping, the source-file parser and the schedule parser with 100,000 generated
# cases per target (proptest; about two minutes on 2 cores). `cargo test` runs 256 of each.
fuzz cases="100000":
    PROPTEST_CASES={{cases}} cargo test --release -p hex-connector -p euno-host --lib fuzz

# Run every benchmark and print its figures (about five minutes; installs DataHub under target/ once).
bench:
    cargo build --release -p euno-host -p hex-sim -p euno-bench
    target/release/euno-bench all

# What CI runs on a clean clone.
ci:
    bash .ci/run
