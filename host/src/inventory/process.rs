//! Who owns a run: the host name, machine identity, process id and token recorded on every run
//! row, and whether a recorded owner is still alive. This is how a run left `running` by a process
//! that died is told apart from a run another live process is doing right now.
//!
//! A process id means something only in its own pid namespace on its own boot of its own machine;
//! host names do not tell machines apart (containers on several hosts often share one). So a
//! process is judged by its pid only when the row's machine identity is this one (see
//! [`machine_id`]); any other run is judged by its heartbeat.

use sha2::{Digest, Sha256};

/// The name of this machine, as recorded on run rows. Read from the kernel rather than through a
/// new dependency; a machine whose name cannot be read is `unknown` (and its runs are judged by
/// heartbeat only: see [`machine_id`]).
pub(super) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// This machine and pid namespace, as recorded on run rows: the kernel's boot id (random at every
/// boot, so distinct across machines and reboots) and the pid namespace, so that two owners with
/// the same identity can compare pids. Where these cannot be read (not Linux), the host name
/// stands in, which is as good as the host name alone was; without a host name either, the
/// identity is this process's own, so that no other process ever judges its run by pid.
pub(super) fn machine_id() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    // `pid:[4026531836]`: the namespace's inode.
    let pid_namespace = std::fs::read_link("/proc/self/ns/pid").ok();
    match (boot, pid_namespace) {
        (Some(boot), Some(namespace)) => format!("boot {boot} {}", namespace.display()),
        _ => match host_name() {
            name if name != "unknown" => format!("host {name}"),
            _ => format!("unknown host, process {}", std::process::id()),
        },
    }
}

/// The worker name recorded on this process's runs: set once from `--worker`, else
/// `<host name>-<pid>`.
static WORKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names this process's worker (`serve --worker NAME`), before its first run. Returns `false`
/// when a name was already in force (it stays).
pub fn set_worker(name: String) -> bool {
    WORKER.set(name).is_ok()
}

/// The worker name recorded on this process's runs (see [`set_worker`]).
pub fn worker() -> &'static str {
    WORKER.get_or_init(|| format!("{}-{}", host_name(), std::process::id()))
}

/// A fresh run token: 128 random bits, hex. Should the system's random source fail, a digest of
/// this process, the time and a counter still tells runs apart, which is all a token is for.
pub(super) fn run_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut digest = Sha256::new();
        digest.update(machine_id());
        digest.update(std::process::id().to_le_bytes());
        digest.update(format!("{:?}", std::time::SystemTime::now()));
        digest.update(
            COUNTER
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_le_bytes(),
        );
        bytes.copy_from_slice(&digest.finalize()[..16]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether process `pid` on this machine, in this pid namespace, still exists. When it cannot be
/// told, the answer is "alive": wrongly abandoning a live run would let two runs of one source
/// race, while wrongly keeping a dead one only blocks that source until its heartbeat goes stale.
///
/// A recycled pid makes a dead run look alive; that is the same safe side.
pub(super) fn is_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new("/proc").join(pid.to_string()).exists()
    } else if cfg!(unix) {
        std::process::Command::new("ps")
            .args(["-p", &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_or(true, |status| status.success())
    } else {
        true
    }
}
