//! What a successful run leaves for the next, so that `lineage = "changed"` asks Hex only about
//! projects that changed: per project, fingerprints of what its lineage and its runs depend on,
//! whether they were read, and its latest run.
//!
//! Compact by design: 17 bytes a project (30 with a run), so 10,000 projects take about 200 KiB
//! of the host's 1 MiB checkpoint budget. Ids and fingerprints are 64- and 32-bit FNV-1a hashes:
//! the checkpoint only has to tell "the same as last time" from "changed", and a collision
//! costs, at worst, one stale project until its next edit. The first byte is the format version;
//! a checkpoint of another version, or one that does not decode, means a full run.

use std::collections::HashMap;

use crate::mapping::LastRun;

/// The format this connector writes.
const VERSION: u8 = 1;

const LINEAGE_READ: u8 = 1;
const RUNS_READ: u8 = 2;
const HAS_LAST_RUN: u8 = 4;

/// Run statuses as one byte; a status not listed here is not stored (its runs are read again).
const STATUSES: [&str; 6] = [
    "PENDING",
    "RUNNING",
    "ERRORED",
    "COMPLETED",
    "KILLED",
    "UNABLE_TO_ALLOCATE_KERNEL",
];

/// What the last successful run knew of one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The fingerprint of `lastEditedAt` then.
    pub edited: u32,
    /// The fingerprint of `lastPublishedAt` and the schedules then.
    pub published: u32,
    /// Whether its lineage was read (so the host stored its relations).
    pub lineage_read: bool,
    /// Whether its runs were read (so `last_run` is what Hex said).
    pub runs_read: bool,
    /// Its latest run, when it had one.
    pub last_run: Option<LastRun>,
}

/// The whole checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The fingerprint of the workspace's URI: another one starts afresh.
    pub scope: u64,
    /// Each data connection's defaults, by id hash: a change means stored `reads` may be stale.
    pub connections: HashMap<u64, u64>,
    /// The projects, by id hash.
    pub projects: HashMap<u64, Entry>,
}

impl Checkpoint {
    /// The entry of the project `id`.
    pub fn project(&self, id: &str) -> Option<&Entry> {
        self.projects.get(&hash64(id))
    }

    /// Records the project `id`.
    pub fn insert(&mut self, id: &str, entry: Entry) {
        self.projects.insert(hash64(id), entry);
    }

    /// Records the data connection `id` with its defaults (`Connection::defaults_key`).
    pub fn insert_connection(&mut self, id: &str, defaults: &str) {
        self.connections.insert(hash64(id), hash64(defaults));
    }

    /// Whether a data connection both checkpoints know has other defaults now.
    pub fn connections_changed(&self, now: &Checkpoint) -> bool {
        now.connections
            .iter()
            .any(|(id, defaults)| self.connections.get(id).is_some_and(|old| old != defaults))
    }

    /// The bytes to save.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(32 + self.connections.len() * 16 + self.projects.len() * 30);
        out.push(VERSION);
        out.extend_from_slice(&self.scope.to_le_bytes());
        push_len(&mut out, self.connections.len());
        for (id, defaults) in &self.connections {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&defaults.to_le_bytes());
        }
        push_len(&mut out, self.projects.len());
        for (id, entry) in &self.projects {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&entry.edited.to_le_bytes());
            out.extend_from_slice(&entry.published.to_le_bytes());
            let status = entry.last_run.as_ref().map(|run| match &run.status {
                None => Some(u8::MAX),
                Some(status) => STATUSES
                    .iter()
                    .position(|known| known == status)
                    .and_then(|at| u8::try_from(at).ok()),
            });
            // A run whose status has no code is not stored: read it again next time.
            let runs_read = entry.runs_read && status != Some(None);
            let mut flags = 0;
            if entry.lineage_read {
                flags |= LINEAGE_READ;
            }
            if runs_read {
                flags |= RUNS_READ;
            }
            let stored = entry.last_run.as_ref().zip(status.flatten());
            if runs_read && stored.is_some() {
                flags |= HAS_LAST_RUN;
            }
            out.push(flags);
            if let (true, Some((run, code))) = (runs_read, stored) {
                out.push(code);
                out.extend_from_slice(&run.at.unwrap_or(i64::MIN).to_le_bytes());
                let duration = run
                    .duration_seconds
                    .and_then(|d| u32::try_from(d).ok())
                    .unwrap_or(u32::MAX);
                out.extend_from_slice(&duration.to_le_bytes());
            }
        }
        out
    }

    /// Reads what [`Checkpoint::encode`] wrote; `Err` says why it cannot be used.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
        let mut input = Input(bytes);
        let version = input.u8()?;
        if version != VERSION {
            return Err(format!("it is of format {version}, not {VERSION}"));
        }
        let scope = input.u64()?;
        let mut checkpoint = Checkpoint {
            scope,
            ..Checkpoint::default()
        };
        for _ in 0..input.u32()? {
            let id = input.u64()?;
            checkpoint.connections.insert(id, input.u64()?);
        }
        for _ in 0..input.u32()? {
            let id = input.u64()?;
            let edited = input.u32()?;
            let published = input.u32()?;
            let flags = input.u8()?;
            let last_run = if flags & HAS_LAST_RUN != 0 {
                let code = input.u8()?;
                let at = input.i64()?;
                let duration = input.u32()?;
                Some(LastRun {
                    status: STATUSES.get(usize::from(code)).map(|s| (*s).to_owned()),
                    at: (at != i64::MIN).then_some(at),
                    duration_seconds: (duration != u32::MAX).then_some(i64::from(duration)),
                })
            } else {
                None
            };
            checkpoint.projects.insert(
                id,
                Entry {
                    edited,
                    published,
                    lineage_read: flags & LINEAGE_READ != 0,
                    runs_read: flags & RUNS_READ != 0,
                    last_run,
                },
            );
        }
        if !input.0.is_empty() {
            return Err(format!("{} bytes are left over", input.0.len()));
        }
        Ok(checkpoint)
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

/// The bytes left to decode.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| "it ends too early".to_owned())?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.take().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.take().map(i64::from_le_bytes)
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
pub fn hash64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// FNV-1a folded to 32 bits, for fingerprints.
pub fn hash32(text: &str) -> u32 {
    let hash = hash64(text);
    // The high half folded onto the low one; truncation is the point.
    ((hash >> 32) ^ hash) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(projects: usize) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            scope: hash64("https://app.hex.tech/api/v1 acme"),
            ..Checkpoint::default()
        };
        checkpoint.insert_connection("dc1", "snowflake\0ANALYTICS\0MARTS");
        for n in 0..projects {
            let last_run = (n % 3 == 0).then(|| LastRun {
                status: Some(STATUSES[n % STATUSES.len()].to_owned()),
                at: (n % 2 == 0).then_some(1_700_000_000_000 + n as i64),
                duration_seconds: Some(n as i64),
            });
            checkpoint.insert(
                &format!("{n:08x}-aaaa-4bbb-8ccc-0123456789ab"),
                Entry {
                    edited: hash32(&format!("edited {n}")),
                    published: hash32(&format!("published {n}")),
                    lineage_read: n % 5 != 0,
                    runs_read: true,
                    last_run,
                },
            );
        }
        checkpoint
    }

    #[test]
    fn a_checkpoint_round_trips() {
        let checkpoint = sample(100);
        assert_eq!(Checkpoint::decode(&checkpoint.encode()), Ok(checkpoint));
    }

    #[test]
    fn ten_thousand_projects_fit_well_under_the_budget() {
        let bytes = sample(10_000).encode();
        assert!(bytes.len() < 256 * 1024, "{} bytes", bytes.len());
    }

    #[test]
    fn an_unknown_status_is_not_stored_and_read_again() {
        let mut checkpoint = Checkpoint::default();
        let entry = Entry {
            runs_read: true,
            last_run: Some(LastRun {
                status: Some("SOMETHING_NEW".to_owned()),
                ..LastRun::default()
            }),
            ..Entry::default()
        };
        checkpoint.insert("p", entry);
        let decoded = Checkpoint::decode(&checkpoint.encode()).expect("decodes");
        let entry = decoded.project("p").expect("the project");
        assert!(!entry.runs_read);
        assert_eq!(entry.last_run, None);
    }

    #[test]
    fn other_versions_and_damage_are_refused() {
        let bytes = sample(3).encode();
        let mut other = bytes.clone();
        other[0] = 9;
        assert_eq!(
            Checkpoint::decode(&other),
            Err("it is of format 9, not 1".to_owned())
        );
        assert!(Checkpoint::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes;
        longer.push(0);
        assert!(Checkpoint::decode(&longer).is_err());
    }

    #[test]
    fn changed_defaults_of_a_known_connection_are_seen_and_new_ones_are_not() {
        let mut before = Checkpoint::default();
        before.insert_connection("dc1", "a");
        let mut after = Checkpoint::default();
        after.insert_connection("dc1", "a");
        after.insert_connection("dc2", "b");
        assert!(!before.connections_changed(&after));
        after.insert_connection("dc1", "c");
        assert!(before.connections_changed(&after));
    }
}
