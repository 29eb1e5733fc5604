//! Builds the connector components that `euno-host` carries.
//!
//! The Hex connector (`guest/`) is compiled to a `wasm32-wasip2` component and embedded in the
//! binary, so that `euno-host` works alone. The test connector (`tests/guests/test-guest`) and the
//! example connector (`examples/minidash`) are built in the same cargo invocation (sharing their
//! dependencies) and only their paths are exported, for the integration tests and CI's
//! conformance step.
//!
//! rustup 1.29 does not add a target named in `rust-toolchain.toml` to a toolchain that is already
//! installed, so a fresh machine would fail here with E0463. This script checks for the target
//! and runs `rustup target add wasm32-wasip2` itself, saying so.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm-release";
/// Crates built to components, and the file each one produces.
const COMPONENTS: [(&str, &str); 3] = [
    ("hex-connector", "hex_connector.wasm"),
    ("test-guest", "test_guest.wasm"),
    ("minidash-connector", "minidash_connector.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this"));

    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "tests/guests",
        "sdk/src",
        "sdk/Cargo.toml",
        "examples/minidash/src",
        "examples/minidash/Cargo.toml",
        "Cargo.lock",
        // The wasm-release profile lives in the workspace manifest.
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    ensure_target_installed(&rustc);

    let target_dir = guest_target_dir(&out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in COMPONENTS {
        build.args(["-p", package]);
    }
    // Flags meant for the host must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("could not start cargo to build the connector components: {e}"));
    assert!(
        status.success(),
        "building the connector components for {TARGET} failed (see the cargo output above)"
    );

    let artifacts = target_dir.join(TARGET).join(PROFILE);
    let hex = artifacts.join(COMPONENTS[0].1);
    let embedded = out_dir.join(COMPONENTS[0].1);
    std::fs::copy(&hex, &embedded)
        .unwrap_or_else(|e| panic!("copying {} into OUT_DIR: {e}", hex.display()));
    println!("cargo:rustc-env=EUNO_HEX_COMPONENT={}", embedded.display());
    println!(
        "cargo:rustc-env=EUNO_TEST_GUEST_COMPONENT={}",
        artifacts.join(COMPONENTS[1].1).display()
    );
    println!(
        "cargo:rustc-env=EUNO_MINIDASH_COMPONENT={}",
        artifacts.join(COMPONENTS[2].1).display()
    );
}

/// Adds the wasm target to the active toolchain when its standard library is missing.
fn ensure_target_installed(rustc: &str) {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let installed =
        sysroot.is_some_and(|root| root.join("lib/rustlib").join(TARGET).join("lib").is_dir());
    if installed {
        return;
    }
    println!(
        "cargo:warning=the {TARGET} target is missing from this toolchain; running `rustup target add {TARGET}`"
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            panic!("`rustup target add {TARGET}` failed ({status}); run it by hand and build again")
        }
        Err(e) => panic!(
            "the {TARGET} target is missing and rustup could not be started ({e}); install the target and build again"
        ),
    }
}

/// A target directory for the wasm build beside the host's own (`<target>/wasm-components`), so
/// debug and release host builds share one guest build and the nested cargo never waits on the
/// lock of the outer one.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is `<target>[/<triple>]/<profile>/build/<crate>-<hash>/out`.
    let profile_dir = out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .expect("OUT_DIR lies under <target>/<profile>/build");
    profile_dir
        .parent()
        .expect("the profile directory has a parent")
        .join("wasm-components")
}
