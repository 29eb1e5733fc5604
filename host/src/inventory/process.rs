//! Who owns a run: the host name and process id recorded on every run row, and whether a recorded
//! owner is still alive. This is how a run left `running` by a process that died is told apart
//! from a run another live process is doing right now.

/// The name of this machine, as recorded on run rows. Read from the kernel rather than through a
/// new dependency; a machine whose name cannot be read is `unknown`, which only means its dead
/// runs are never reclaimed automatically.
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

/// Whether process `pid` on this host still exists. When it cannot be told, the answer is "alive":
/// wrongly abandoning a live run would let two runs of one source race, while wrongly keeping a
/// dead one only blocks that source until someone looks.
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
