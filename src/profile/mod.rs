//! Profiles (being built).
