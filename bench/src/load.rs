//! Benchmark 5: loading the Hex component. JIT compilation against loading the precompiled
//! component from the cache, and instantiation.
//!
//! Two views. The steps alone, with wasmtime directly on an engine configured like the host's
//! (component model, epoch interruption): compile, precompile, deserialize, instantiate from an
//! `InstancePre` (imports stubbed, as instantiation calls none of them). And the host's own
//! `Runtime::load`, which is what `euno-host` does before every command: compile or load from the
//! cache, link, instantiate, and call `spec()`.

use std::time::{Duration, Instant};

use euno_host::connectors::{BUNDLED_HEX_COMPONENT, load_bundled};
use euno_host::sandbox::Runtime;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

use crate::measure::{median, range};

/// Runs every measurement `rounds` times (instantiation `rounds × 100` times) and prints them.
pub fn run(rounds: usize) -> anyhow::Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bytes = BUNDLED_HEX_COMPONENT;

    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let engine = Engine::new(&config).map_err(anyhow::Error::msg)?;
    let wasmtime_error = |e: wasmtime::Error| anyhow::anyhow!("{e:#}");

    let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
    let jit = timed(rounds, || {
        Component::new(&engine, bytes).map_err(wasmtime_error)?;
        Ok(())
    })?;
    let precompile = timed(rounds, || {
        engine.precompile_component(bytes).map_err(wasmtime_error)?;
        Ok(())
    })?;
    let compiled = engine.precompile_component(bytes).map_err(wasmtime_error)?;
    let dir = tempfile::tempdir()?;
    let cached = dir.path().join("hex.cwasm");
    std::fs::write(&cached, &compiled)?;
    let deserialize = timed(rounds, || {
        // SAFETY: the file was just written by `precompile_component` of this engine.
        unsafe { Component::deserialize_file(&engine, &cached) }.map_err(wasmtime_error)?;
        Ok(())
    })?;
    // SAFETY: as above.
    let component =
        unsafe { Component::deserialize_file(&engine, &cached) }.map_err(wasmtime_error)?;
    let mut linker: Linker<()> = Linker::new(&engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(wasmtime_error)?;
    let pre = linker.instantiate_pre(&component).map_err(wasmtime_error)?;
    let instantiate = timed(rounds * 100, || {
        let mut store = Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        tokio
            .block_on(pre.instantiate_async(&mut store))
            .map_err(wasmtime_error)?;
        Ok(())
    })?;
    rows.push(("wasmtime: JIT compile (`Component::new`)", jit));
    rows.push((
        "wasmtime: precompile for the cache (`precompile_component`)",
        precompile,
    ));
    rows.push((
        "wasmtime: load the precompiled component (`Component::deserialize_file`)",
        deserialize,
    ));
    rows.push((
        "wasmtime: instantiate from `InstancePre` in a fresh `Store`",
        instantiate,
    ));

    let host_jit = timed(rounds, || {
        let runtime = Runtime::new(None)?;
        tokio.block_on(load_bundled(&runtime))?;
        Ok(())
    })?;
    let host_cold = timed(rounds, || {
        let cache = tempfile::tempdir()?;
        let runtime = Runtime::new(Some(cache.path().to_owned()))?;
        tokio.block_on(load_bundled(&runtime))?;
        Ok(())
    })?;
    let warm_cache = tempfile::tempdir()?;
    {
        let runtime = Runtime::new(Some(warm_cache.path().to_owned()))?;
        tokio.block_on(load_bundled(&runtime))?;
    }
    let runtime = Runtime::new(Some(warm_cache.path().to_owned()))?;
    let host_warm = timed(rounds * 10, || {
        tokio.block_on(load_bundled(&runtime))?;
        Ok(())
    })?;
    rows.push((
        "euno-host `Runtime::load`, no cache: JIT + link + instantiate + `spec()`",
        host_jit,
    ));
    rows.push((
        "euno-host `Runtime::load`, first run: compile + write the cache + load it + link + \
         instantiate + `spec()`",
        host_cold,
    ));
    rows.push((
        "euno-host `Runtime::load`, cached: load + link + instantiate + `spec()`",
        host_warm.clone(),
    ));

    println!(
        "## 5. Component load ({} KiB component)\n",
        bytes.len() / 1024
    );
    println!("| step | samples | median | range |");
    println!("|---|---:|---:|---:|");
    for (label, samples) in &rows {
        let ms = samples.iter().map(|d| d.as_secs_f64() * 1e3);
        let (lo, hi) = range(ms.clone());
        println!(
            "| {label} | {} | {:.3} ms | {lo:.3}–{hi:.3} ms |",
            samples.len(),
            median(ms)
        );
    }
    let warm = median(host_warm.iter().map(|d| d.as_secs_f64() * 1e3));
    println!(
        "\nTarget: cached component load plus instantiate under 5 ms: {warm:.3} ms (the host's \
         cached `Runtime::load`, which also links and calls `spec()`) → {}\n",
        crate::throughput::verdict(warm < 5.0)
    );
    Ok(())
}

/// `f` timed `n` times.
fn timed(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<Duration>> {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            f()?;
            Ok(started.elapsed())
        })
        .collect()
}
