//! Hex connector fidelity end to end: every promised property and an API client that survives the real API.
