//! The inventory end to end: atomic runs, change detection, sponsorship, cleanup, history and export.
