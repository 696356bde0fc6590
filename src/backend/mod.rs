//! Driver backends: where the driver under test comes from.
