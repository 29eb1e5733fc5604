//! What every command works with: the engine, the data directory and the connectors directory.

use std::path::PathBuf;

use crate::inventory::Database;
use crate::sandbox::Runtime;

/// Where data lives when `--data-dir` and `EUNO_DATA_DIR` are absent.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("euno-host")
}

/// The paths a command works with.
pub struct Paths {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The shared PostgreSQL inventory (`--database`), if any; else the SQLite file in the data
    /// directory.
    pub database: Option<Database>,
}

impl Paths {
    /// The inventory database: `--database`, else the SQLite file in the data directory.
    pub fn inventory(&self) -> Database {
        match &self.database {
            Some(database) => database.clone(),
            None => Database::Sqlite(self.data_dir.join("inventory.sqlite3")),
        }
    }

    /// Compiled components.
    pub fn cache(&self) -> PathBuf {
        self.data_dir.join("cache")
    }
}

/// What every command may need.
pub struct Context {
    /// The engine and linker.
    pub runtime: Runtime,
    /// Where data lives.
    pub paths: Paths,
    /// The connectors directory, when given.
    pub connectors: Option<PathBuf>,
}
