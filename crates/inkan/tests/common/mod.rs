//! What the `inkan` binary's tests share: `inkan serve --dev` as a child process in a temporary
//! folder, waited for until it says it is ready, killed and started again on the configuration
//! it wrote, and `inkan client` run on its profiles.
#![allow(dead_code, clippy::unwrap_used)]

pub mod issuing;

use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long `serve` may take to be ready (a debug build, key generation, provisioning).
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The line `inkan serve` prints once it listens, before the port.
pub const SERVING: &str = "inkan serving on https://localhost:";

/// How a server process is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// The `inkan` binary itself.
    Plain,
    /// Through `sh`, which ignores SIGXFSZ and then becomes `inkan` (`exec`, the same process):
    /// a file size limit set on it later (`prlimit --fsize`) makes its writes fail with EFBIG,
    /// as on a full file system, instead of killing it.
    IgnoringFileSizeSignal,
    /// The `inkan` binary with `INKAN_LOG` set to this filter (more of its log in
    /// `server.log`).
    Logging(&'static str),
}

/// `inkan serve` running in a temporary folder, on the deployment `--dev` made there. Its
/// stderr (the JSON log) goes to `server.log` in the folder, across restarts.
pub struct Dev {
    child: Child,
    pub dir: tempfile::TempDir,
    /// What was printed: the server's readiness lines and each command's output.
    pub outputs: Vec<String>,
    /// The port the server listens on now (a new one after each restart).
    pub port: u16,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// `inkan serve --dev` on a free port, waited for until it has printed its summary.
    pub fn start() -> Dev {
        Dev::start_with(&[])
    }

    /// [`start`](Self::start) with more arguments of `serve --dev` (`--dev-store URL`).
    pub fn start_with(more: &[&str]) -> Dev {
        Dev::start_as(Launch::Plain, more)
    }

    /// [`start_with`](Self::start_with), launched as `launch` says.
    pub fn start_as(launch: Launch, more: &[&str]) -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["serve", "--dev", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(more);
        let (child, text) = serve(
            dir.path(),
            &args,
            |line| line.contains("inkan client --profile") && line.contains("receipt"),
            launch,
        );
        assert!(text.contains(SERVING), "{text}");
        assert!(text.contains("dev deployment ready"), "{text}");
        Dev {
            child,
            dir,
            port: serving_port(&text),
            outputs: vec![text],
        }
    }

    /// Kills the server with SIGKILL (no shutdown, no flush) and waits for it: how it ended.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// Starts the server again after [`kill`](Self::kill), on the configuration `--dev` wrote
    /// (never `--dev` again, which would empty the folder) and a new free port: how long it took
    /// to say it was serving.
    pub fn restart(&mut self) -> Duration {
        self.restart_as(Launch::Plain)
    }

    /// As [`restart`](Self::restart), launched as `launch` says.
    pub fn restart_as(&mut self, launch: Launch) -> Duration {
        assert!(
            self.child.try_wait().unwrap().is_some(),
            "restart only a server that has ended"
        );
        let config = self.path("inkan-dev/inkan.toml");
        let started = Instant::now();
        let (child, text) = serve(
            self.dir.path(),
            &[
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("serve"),
            ],
            |line| line.starts_with(SERVING),
            launch,
        );
        let ready = started.elapsed();
        self.child = child;
        self.port = serving_port(&text);
        self.outputs.push(text);
        ready
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn profile(&self, name: &str) -> PathBuf {
        self.path(&format!("inkan-dev/profiles/{name}"))
    }

    /// Whether the server process is still running (it has not ended since it was started).
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far (all its runs).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap()
    }

    /// `inkan ARGS` in the folder: (success, stdout, stderr).
    pub fn inkan<S: AsRef<OsStr>>(&mut self, args: &[S]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("INKAN_CONFIG")
            .env_remove("INKAN_CLIENT_PROFILE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        self.outputs.push(format!("{stdout}\n{stderr}"));
        (out.status.success(), stdout, stderr)
    }

    /// `inkan client --profile <name> ARGS`, in the folder: (success, stdout, stderr).
    pub fn client(&mut self, name: &str, args: &[&str]) -> (bool, String, String) {
        let mut all: Vec<OsString> = vec!["client".into(), "--profile".into()];
        all.push(self.profile(name).into());
        all.extend(args.iter().map(OsString::from));
        self.inkan(&all)
    }

    /// As [`client`](Self::client) with `--json`, which must succeed: the answer.
    pub fn json(&mut self, name: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (ok, stdout, stderr) = self.client(name, &all);
        assert!(ok, "inkan client {args:?} failed: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

/// Another `inkan` process in a [`Dev`]'s folder (a signer or a front end of a split
/// deployment), killed when dropped.
pub struct Process {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Process {
    /// `inkan ARGS` in `dir`, waited for until it prints `ready_prefix` (ending in
    /// `https://localhost:`) and the port after it.
    pub fn start<S: AsRef<OsStr>>(dir: &Path, args: &[S], ready_prefix: &str) -> Process {
        let (child, text) = serve(dir, args, |line| line.contains(ready_prefix), Launch::Plain);
        Process {
            child,
            port: port_after(&text, ready_prefix),
        }
    }

    /// Kills it with SIGKILL and waits for it: how it ended.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `inkan ARGS` in `dir` (stderr appended to `server.log`) and reads its stdout until
/// `ready` accepts a line, within [`READY_TIMEOUT`], launched as `launch` says: the child and
/// the lines read.
fn serve<S: AsRef<OsStr>>(
    dir: &Path,
    args: &[S],
    ready: impl Fn(&str) -> bool,
    launch: Launch,
) -> (Child, String) {
    let server_log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let inkan = env!("CARGO_BIN_EXE_inkan");
    let mut command = match launch {
        Launch::Plain => Command::new(inkan),
        Launch::Logging(filter) => {
            let mut command = Command::new(inkan);
            command.env("INKAN_LOG", filter);
            command
        }
        Launch::IgnoringFileSizeSignal => {
            let mut sh = Command::new("sh");
            sh.args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\"", inkan]);
            sh
        }
    };
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env_remove("INKAN_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(server_log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    // Reads to the end even once nobody listens, so that the server never writes to a closed
    // pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut printed = Vec::new();
    loop {
        let line = match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!(
                    "`inkan {:?}` did not say it was ready ({e}); it printed:\n{}\nits log \
                     ends:\n{}",
                    args.iter().map(|a| a.as_ref()).collect::<Vec<&OsStr>>(),
                    printed.join("\n"),
                    tail(&log, 40)
                )
            }
        };
        let done = ready(&line);
        printed.push(line);
        if done {
            return (child, printed.join("\n"));
        }
    }
}

/// The port in the server's `inkan serving on https://localhost:PORT (…)` line.
fn serving_port(printed: &str) -> u16 {
    port_after(printed, SERVING)
}

/// The port after `prefix` (which ends in `https://localhost:`) in what a process printed.
fn port_after(printed: &str, prefix: &str) -> u16 {
    let (_, rest) = printed.split_once(prefix).unwrap();
    let port = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap();
    port.parse()
        .unwrap_or_else(|e| panic!("no port in what serve printed ({e}): {printed}"))
}

/// The last `count` lines of `text`.
pub fn tail(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
