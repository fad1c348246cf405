//! A peer written in Python with its own `socket` and `ssl` modules, independent of the
//! harness's code (`fixtures/hostile/*.py`): started with `/usr/bin/python3`, it prints the port
//! it listens on as its first line, and is killed when the test ends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A peer process, killed and waited for when dropped.
pub struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `/usr/bin/python3 script args...`, which prints the port it listens on as its first
/// line; returns it and that port.
pub fn python_server(script: &str, args: &[&std::ffi::OsStr]) -> (Peer, u16) {
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server prints its port");
    (Peer(child), port)
}
