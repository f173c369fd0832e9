//! Reporters (being built).
