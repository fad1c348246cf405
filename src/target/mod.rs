//! Implementations under test: the built-in server and client.
