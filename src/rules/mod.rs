//! Rules (being built).
