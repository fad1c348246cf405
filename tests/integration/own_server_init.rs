//! `xmpp-interop init` followed as a participant follows it: the snippet it writes is included
//! in a Prosody and an ejabberd started by hand (not managed targets), the account is created
//! with the server's own tool, and the shipped set runs against the targets file init wrote.
//! The matrix must hold no `error`, and the direct-TLS cases must pass on the chain init made:
//! that proves the snippet opens direct TLS with the right certificate and the mechanisms.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::real::{read_json, skipped};
use super::support::{Scratch, harness, on_path, output_text};

/// The domain the participant's server serves in these tests.
const DOMAIN: &str = "own.test";

/// A server started by hand, in its own process group, killed with it when the test ends.
struct HandRun {
    child: Child,
    stop: Option<Command>,
}

impl Drop for HandRun {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.as_mut() {
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal to the process group the test started.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// Two ports nothing listens on now.
fn free_ports() -> (u16, u16) {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
fn wait_listening(port: u16, server: &str, log: &Path) {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{server} does not listen on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `init` for `software` into `dir/init`; returns the targets file, the configuration
/// snippet and the account's password (read back from the targets file).
fn init(dir: &Path, software: &str, starttls: u16, direct: u16) -> (PathBuf, PathBuf, String) {
    let out = dir.join("init");
    let output = harness()
        .args(["init", "--domain", DOMAIN, "--software", software])
        .arg("--out")
        .arg(&out)
        .args(["--starttls-port", &starttls.to_string()])
        .args(["--direct-tls-port", &direct.to_string()])
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "xmpp-interop run --targets {}",
            out.join("targets.yaml").display()
        )),
        "init prints the next command: {stdout}"
    );
    let targets = out.join("targets.yaml");
    let text = std::fs::read_to_string(&targets).unwrap();
    let password = text
        .split("password: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the targets file holds the account's password")
        .to_owned();
    let snippet = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().contains("-xmpp-interop."))
        .expect("init writes the server's configuration snippet");
    (targets, snippet, password)
}

/// Runs the shipped set against the targets file and checks the matrix: no `error`, and
/// every mechanism in `direct_tls_passes` passes `c2s-authenticate` over direct TLS.
fn run_and_check(dir: &Path, targets: &Path, direct_tls_passes: &[&str]) {
    let out = dir.join("report");
    let output = harness()
        .arg("run")
        .arg("--targets")
        .arg(targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "the run ends with a verdict, not a configuration or harness error: {stdout}\n{stderr}"
    );
    let results = read_json(&out, "results.json");
    let cases = results["results"].as_array().unwrap();
    let errors: Vec<&str> = cases
        .iter()
        .filter(|case| case["outcome"] == "error")
        .map(|case| case["scenario"].as_str().unwrap_or_default())
        .collect();
    assert!(errors.is_empty(), "error cells: {errors:?}\n{stdout}");
    for mechanism in direct_tls_passes {
        let id = format!("c2s-authenticate/direct-tls/{mechanism}");
        let case = cases
            .iter()
            .find(|case| case["scenario"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} is in the matrix"));
        assert_eq!(case["outcome"], "pass", "{id}: {case}");
    }
}

/// Prosody 0.12 as a participant runs it: its own configuration file, which `Include`s the
/// snippet init wrote, and an account made with prosodyctl.
#[test]
fn init_prepares_a_hand_run_prosody_for_a_matrix_without_errors() {
    if !on_path("prosody") || !on_path("prosodyctl") {
        skipped(
            "own_server_init::init_prepares_a_hand_run_prosody_for_a_matrix_without_errors",
            "prosody not installed",
        );
        return;
    }
    let scratch = Scratch::new("init-prosody");
    let (starttls, direct) = free_ports();
    let (targets, snippet, password) = init(&scratch, "prosody", starttls, direct);
    let server_dir = scratch.join("prosody");
    std::fs::create_dir_all(server_dir.join("data")).unwrap();
    let config = server_dir.join("prosody.cfg.lua");
    let log = server_dir.join("prosody.log");
    std::fs::write(
        &config,
        format!(
            "run_as_root = true\ndaemonize = false\npidfile = \"{dir}/prosody.pid\"\ndata_path = \"{dir}/data\"\n\
             log = {{ info = \"{log}\" }}\ninterfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {starttls} }}\n\
             s2s_ports = {{ }}\nhttp_ports = {{ }}\nhttps_ports = {{ }}\n\
             modules_enabled = {{ \"roster\"; \"saslauth\"; \"tls\"; \"disco\"; \"ping\"; }}\n\
             modules_disabled = {{ \"offline\"; \"posix\"; }}\nVirtualHost \"localhost\"\nInclude \"{snippet}\"\n",
            dir = server_dir.display(),
            log = log.display(),
            snippet = snippet.display(),
        ),
    )
    .unwrap();
    let registered = Command::new("prosodyctl")
        .arg("--config")
        .arg(&config)
        .args(["register", "xmpp-interop", DOMAIN, &password])
        .output()
        .unwrap();
    assert!(registered.status.success(), "{registered:?}");
    let child = Command::new("prosody")
        .arg("--config")
        .arg(&config)
        .arg("-F")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let _prosody = HandRun { child, stop: None };
    wait_listening(direct, "prosody", &log);
    wait_listening(starttls, "prosody", &log);
    run_and_check(
        &scratch,
        &targets,
        &["plain", "scram-sha-1", "scram-sha-256"],
    );
}

/// ejabberd 23.01 as a participant runs it: its own ejabberd.yml with `include_config_file`
/// naming the snippet, run as the ejabberd user, an account made with ejabberdctl.
#[test]
fn init_prepares_a_hand_run_ejabberd_for_a_matrix_without_errors() {
    if !on_path("ejabberdctl") {
        skipped(
            "own_server_init::init_prepares_a_hand_run_ejabberd_for_a_matrix_without_errors",
            "ejabberd not installed",
        );
        return;
    }
    let scratch = Scratch::new("init-ejabberd");
    let (starttls, direct) = free_ports();
    let (distribution, _) = free_ports();
    let (targets, snippet, password) = init(&scratch, "ejabberd", starttls, direct);
    let server_dir = scratch.join("ejabberd");
    for sub in ["conf", "spool", "logs"] {
        std::fs::create_dir_all(server_dir.join(sub)).unwrap();
    }
    std::fs::write(
        server_dir.join("conf/ejabberd.yml"),
        format!(
            "loglevel: info\nhosts:\n  - \"localhost\"\nlisten:\n  -\n    port: {starttls}\n    ip: \"127.0.0.1\"\n    \
             module: ejabberd_c2s\n    starttls_required: true\nacl:\n  local:\n    user_regexp: \"\"\n\
             access_rules:\n  local:\n    allow: local\n  c2s:\n    allow: all\n\
             modules:\n  mod_disco: {{}}\n  mod_ping: {{}}\n  mod_roster: {{}}\n\
             include_config_file: \"{}\"\n",
            snippet.display()
        ),
    )
    .unwrap();
    std::fs::write(
        server_dir.join("conf/ejabberdctl.cfg"),
        format!(
            "ERLANG_NODE=init{distribution}@localhost\nINET_DIST_INTERFACE=127.0.0.1\nERL_DIST_PORT={distribution}\nEJABBERD_BYPASS_WARNINGS=true\n"
        ),
    )
    .unwrap();
    std::fs::write(
        server_dir.join("conf/inetrc"),
        "{resolv_conf, \"\"}.\n{nameserver, {127,0,0,1}, 53}.\n{lookup, [file, native]}.\n",
    )
    .unwrap();
    let user = ejabberd_user();
    if let Some((uid, gid)) = user {
        // What the snippet's head asks of the participant: the ejabberd user reads the chain.
        for path in [&server_dir, &scratch.join("init")] {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    let ejabberdctl = |arguments: &[&str]| {
        let mut command = Command::new("ejabberdctl");
        command
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &server_dir)
            .env("ERL_DIST_PORT", distribution.to_string())
            .current_dir(&server_dir)
            .arg("--ctl-config")
            .arg(server_dir.join("conf/ejabberdctl.cfg"))
            .arg("--config-dir")
            .arg(server_dir.join("conf"))
            .arg("--spool")
            .arg(server_dir.join("spool"))
            .arg("--logs")
            .arg(server_dir.join("logs"))
            .args(arguments);
        if let Some((uid, gid)) = user {
            command.uid(uid).gid(gid);
        }
        command
    };
    let child = ejabberdctl(&["foreground"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let _ejabberd = HandRun {
        child,
        stop: Some(ejabberdctl(&["stop"])),
    };
    let log = server_dir.join("logs/ejabberd.log");
    wait_listening(direct, "ejabberd", &log);
    wait_listening(starttls, "ejabberd", &log);
    let started = Instant::now();
    loop {
        let registered = ejabberdctl(&["register", "xmpp-interop", DOMAIN, &password])
            .output()
            .unwrap();
        if registered.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ejabberdctl register: {registered:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    run_and_check(
        &scratch,
        &targets,
        &["plain", "scram-sha-1", "scram-sha-256", "scram-sha-512"],
    );
}

/// The uid and gid of the `ejabberd` user when the test runs as root (ejabberd will not run
/// as root); `None` otherwise.
fn ejabberd_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let fields: Vec<&str> = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"ejabberd"))
        .expect("the ejabberd package creates an ejabberd user");
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}
