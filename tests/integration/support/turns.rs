//! Tests that must not run beside each other take turns here. Each test file used to be a
//! process of its own, and cargo runs test binaries one after the other; in one binary, tests of
//! different modules run at the same time unless they take a turn.
//!
//! The managed real servers: federation tests use fixed addresses on port 5269 and the
//! machine-wide federation lock, and check afterwards that no server, port or directory is
//! left, so each runs alone. Other tests that start managed servers may run beside each other,
//! as they did in their own binary, but not beside a federation test.

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Taken to read by tests that start managed servers, to write by federation tests. A tokio
/// lock, so that async tests can hold it across `.await`.
static MANAGED_SERVERS: RwLock<()> = RwLock::const_new(());

/// A turn for a synchronous test that starts managed servers and may share the machine with
/// others like it.
pub fn managed_servers_shared() -> RwLockReadGuard<'static, ()> {
    MANAGED_SERVERS.blocking_read()
}

/// The same turn for an async test.
pub async fn managed_servers_shared_async() -> RwLockReadGuard<'static, ()> {
    MANAGED_SERVERS.read().await
}

/// A turn for a synchronous test that must be the only one running managed servers
/// (federation).
pub fn managed_servers_alone() -> RwLockWriteGuard<'static, ()> {
    MANAGED_SERVERS.blocking_write()
}
