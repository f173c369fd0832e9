//! The command-line front end (being built).
