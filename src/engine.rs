//! The check pipeline over many files (being built).
