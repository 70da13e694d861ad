//! Test harness: one emulator (moto, wrapped by tests/emulator/launcher.py) per test binary, a fresh
//! organization per test (tests/emulator/seed.py), and one builder for running the real binary with
//! `AWS_*` scrubbed from the environment.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let python = std::env::var_os("RDSGUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `make setup` (creates .venv with the pinned moto) or set RDSGUARD_PYTHON",
        python.display()
    );
    python
}

pub struct Emulator {
    pub endpoint: String,
    _child: Mutex<Child>,
    /// Held open: the launcher exits when this pipe closes, i.e. when the test process ends.
    _stdin: Mutex<ChildStdin>,
}

/// The emulator shared by every test in this binary, started on first use on a free port.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let (mut child, endpoint) = start_launcher(Stdio::inherit());
        let stdin = child.stdin.take().expect("launcher stdin");
        Emulator {
            endpoint,
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    })
}

/// What the seeder built: account ids by key, the management account's credentials, ARNs.
pub struct Org {
    pub seeded: Value,
}

impl Org {
    pub fn account(&self, key: &str) -> String {
        self.seeded["accounts"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no account {key} in {}", self.seeded["accounts"]))
            .to_string()
    }

    pub fn arn(&self, account_key: &str, region: &str, id: &str) -> String {
        let key = format!("{account_key}/{region}/{id}");
        self.seeded["arns"][&key]
            .as_str()
            .unwrap_or_else(|| panic!("no ARN for {key}"))
            .to_string()
    }

    /// A `rdsguard` command with the management account's credentials and the emulator's endpoint,
    /// and nothing else from the caller's AWS environment.
    pub fn rdsguard(&self) -> Cmd {
        self.rdsguard_at(&emulator().endpoint)
    }
}

/// Builds an organization from a seeder spec (see tests/emulator/README.md).
pub fn seed(spec: Value) -> Org {
    seed_at(&emulator().endpoint, spec)
}

/// Calls a launcher control route (`/_rdsguard/...`) with a JSON body; returns the JSON answer.
pub fn control(method: &str, path: &str, body: Option<Value>) -> Value {
    request_at(
        &emulator().endpoint,
        method,
        path,
        "application/json",
        body.map(|b| b.to_string()),
    )
}

/// "Now" in the shared emulator for `account_id` (its own clock offset, else the default one): what
/// every timestamp it hands out is measured against. Tests derive `--as-of` and other instants from
/// this, never from the calendar, so they pass whatever day they run on.
pub fn emulator_now(account_id: &str) -> chrono::DateTime<chrono::Utc> {
    clock_now(&control("GET", "/_rdsguard/clock", None), account_id)
}

/// The instant a `/_rdsguard/clock` state says it is for `account_id`.
pub fn clock_now(state: &Value, account_id: &str) -> chrono::DateTime<chrono::Utc> {
    let real = state["real_now"].as_str().expect("real_now");
    let real = chrono::DateTime::parse_from_rfc3339(real)
        .unwrap_or_else(|e| panic!("real_now {real}: {e}"))
        .with_timezone(&chrono::Utc);
    let offset = state["accounts"][account_id]
        .as_f64()
        .or_else(|| state["default_offset_seconds"].as_f64())
        .unwrap_or(0.0);
    real + chrono::Duration::milliseconds((offset * 1000.0) as i64)
}

/// An RFC 3339 instant in whole seconds, as `--as-of` takes it.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Injects a fault; returns its id.
pub fn inject(fault: Value) -> u64 {
    control("POST", "/_rdsguard/faults", Some(fault))["id"]
        .as_u64()
        .expect("fault id")
}

pub fn remove_fault(id: u64) {
    control("DELETE", &format!("/_rdsguard/faults/{id}"), None);
}

/// The calls the emulator recorded with `account_id` as the caller, as it lists them.
fn calls_of(account_id: &str) -> Vec<serde_json::Value> {
    let calls = control(
        "GET",
        &format!("/_rdsguard/calls?account_id={account_id}"),
        None,
    );
    calls
        .as_array()
        .or_else(|| calls["calls"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// Two fields of each recorded call of `account_id`, joined by `sep`.
fn calls_joined(account_id: &str, first: &str, sep: &str, second: &str) -> Vec<String> {
    let field = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or("").to_string();
    calls_of(account_id)
        .iter()
        .map(|c| format!("{}{sep}{}", field(c, first), field(c, second)))
        .collect()
}

/// The AWS operations the emulator recorded with `account_id` as the caller.
pub fn calls_by(account_id: &str) -> Vec<String> {
    calls_joined(account_id, "service", ":", "operation")
}

/// The same calls as `operation@region`.
pub fn calls_in_regions(account_id: &str) -> Vec<String> {
    calls_joined(account_id, "operation", "@", "region")
}

/// `audit --rules rules.toml --out OUT --remediate EXTRA...`.
pub fn remediate_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["audit", "--rules", "rules.toml", "--out", out];
    args.push("--remediate");
    args.extend(extra);
    args
}

/// `audit --resume RUN_DIR --engine step-functions` with the test's `rules.toml`.
pub fn sfn_resume_args(run_dir: &str) -> [&str; 7] {
    [
        "audit",
        "--rules",
        "rules.toml",
        "--resume",
        run_dir,
        "--engine",
        "step-functions",
    ]
}

pub struct Cmd {
    envs: Vec<(String, std::ffi::OsString)>,
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub fn new() -> Cmd {
        Cmd {
            envs: Vec::new(),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn env(&mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.envs
            .push((key.to_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the command's working folder.
    pub fn file(&mut self, name: &str, text: &str) -> &mut Self {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    /// The binary in the command's folder, with no `AWS_*` or `RDSGUARD_*` variable but those set
    /// with `env`.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rdsguard"));
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("AWS_") || name.starts_with("RDSGUARD_") {
                command.env_remove(key);
            }
        }
        command
            .env_remove("RUST_LOG")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run rdsguard").into()
    }

    /// `audit --rules rules.toml --out OUT EXTRA...`.
    pub fn audit(&self, out: &str, extra: &[&str]) -> Run {
        let mut args = vec!["audit", "--rules", "rules.toml", "--out", out];
        args.extend(extra);
        self.run(&args)
    }

    /// `audit --rules rules.toml --out OUT --remediate EXTRA...`.
    pub fn remediate(&self, out: &str, extra: &[&str]) -> Run {
        self.run(&remediate_args(out, extra))
    }

    /// Runs rdsguard with `args` on a pseudo-terminal (util-linux's `script -q -e -c CMD
    /// /dev/null`): the transcript on stdout. `(columns, rows)` sets the terminal's size (`stty`).
    pub fn run_on_terminal(&self, args: &[&str], size: Option<(u16, u16)>) -> Run {
        assert!(
            args.iter()
                .all(|a| !a.is_empty() && !a.contains(char::is_whitespace)),
            "passed to a shell unquoted: {args:?}"
        );
        let stty = size
            .map(|(columns, rows)| format!("stty cols {columns} rows {rows}; "))
            .unwrap_or_default();
        let binary = env!("CARGO_BIN_EXE_rdsguard");
        let line = format!("{stty}{binary} {}", args.join(" "));
        self.run_program("script", &["-q", "-e", "-c", &line, "/dev/null"])
    }

    /// Runs another program (not rdsguard) in the command's folder and environment, e.g. `script`
    /// to give rdsguard a terminal.
    fn run_program(&self, program: &str, args: &[&str]) -> Run {
        let command = self.command(&[]);
        let mut other = Command::new(program);
        other.args(args).current_dir(self.dir.path()).env_clear();
        for (key, value) in command.get_envs() {
            if let Some(value) = value {
                other.env(key, value);
            }
        }
        for key in ["PATH", "HOME", "TERM"] {
            if let Some(value) = std::env::var_os(key) {
                other.env(key, value);
            }
        }
        // A terminal of known size.
        other
            .env("TERM", "xterm")
            .env("COLUMNS", "120")
            .env("LINES", "40");
        other.output().expect("run the program").into()
    }

    /// Starts the binary without waiting (output discarded), e.g. to kill it mid-run.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rdsguard")
    }

    pub fn json(&self, path: &str) -> Value {
        read_json(&self.path(path))
    }
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: text(output.stdout),
            stderr: text(output.stderr),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a future to completion on a small runtime (tests are synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

impl Org {
    /// An SDK config acting in `account_key`'s account (role assumed from the management account),
    /// for tests that look at what rdsguard did.
    pub fn sdk(&self, account_key: &str, region: &str) -> aws_config::SdkConfig {
        self.sdk_at(&emulator().endpoint, account_key, region)
    }

    /// An SDK config acting in the organization's management account (the caller's, where
    /// rdsguard deploys its state machine by default), with the seeder's credentials.
    pub fn management_sdk(&self, region: &str) -> aws_config::SdkConfig {
        self.management_sdk_at(&emulator().endpoint, region)
    }

    fn management_sdk_at(&self, endpoint: &str, region: &str) -> aws_config::SdkConfig {
        use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
        let creds = &self.seeded["credentials"];
        let management = Credentials::new(
            creds["access_key_id"].as_str().unwrap_or_default(),
            creds["secret_access_key"].as_str().unwrap_or_default(),
            creds["session_token"].as_str().map(str::to_string),
            None,
            "test-management",
        );
        block_on(async {
            rdsguard::aws::base_config(&rdsguard::aws::ConnectOptions {
                endpoint_url: Some(endpoint.to_string()),
                region: Some(region.to_string()),
            })
            .await
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(management))
            .build()
        })
    }

    /// [`Org::sdk`] for an organization seeded in the emulator at `endpoint` (a private one).
    pub fn sdk_at(&self, endpoint: &str, account_key: &str, region: &str) -> aws_config::SdkConfig {
        use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
        let account = self.account(account_key);
        let base = self.management_sdk_at(endpoint, region);
        block_on(async {
            let assumed = aws_sdk_sts::Client::new(&base)
                .assume_role()
                .role_arn(format!(
                    "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
                ))
                .role_session_name("rdsguard-test")
                .send()
                .await
                .expect("assume role for the test");
            let c = assumed.credentials().expect("credentials");
            base.into_builder()
                .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_string()),
                    None,
                    "test-member",
                )))
                .build()
        })
    }
}

// --- Helpers for the reliability, IAM and fuzz tests (appended; the functions above are unchanged) ---

/// Starts a launcher on a free port; returns the child (stdin piped: it exits when that closes) and
/// its endpoint.
fn start_launcher(stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(python())
        .arg(repo().join("tests/emulator/launcher.py"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the emulator launcher");
    let stdout = child.stdout.take().expect("launcher stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the launcher's READY line");
    let endpoint = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("launcher did not say READY: {line:?}"))
        .trim()
        .to_string();
    (child, endpoint)
}

/// An emulator of one test's own, for what must not touch the shared one: server-wide settings
/// (moto's IAM enforcement) or killing it mid-run. Killed when dropped.
pub struct PrivateEmulator {
    pub endpoint: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl PrivateEmulator {
    pub fn start() -> PrivateEmulator {
        let (mut child, endpoint) = start_launcher(Stdio::null());
        let stdin = child.stdin.take();
        PrivateEmulator {
            endpoint,
            child,
            stdin,
        }
    }

    /// Builds an organization in this emulator (see [`seed`]).
    pub fn seed(&self, spec: Value) -> Org {
        seed_at(&self.endpoint, spec)
    }

    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        request_at(
            &self.endpoint,
            method,
            path,
            "application/json",
            body.map(|b| b.to_string()),
        )
    }

    pub fn inject(&self, fault: Value) -> u64 {
        self.control("POST", "/_rdsguard/faults", Some(fault))["id"]
            .as_u64()
            .expect("fault id")
    }

    /// How many requests the fault `id` has matched so far.
    pub fn fault_hits(&self, id: u64) -> u64 {
        self.control("GET", "/_rdsguard/faults", None)["faults"]
            .as_array()
            .and_then(|faults| faults.iter().find(|f| f["id"] == id))
            .and_then(|f| f["hits"].as_u64())
            .unwrap_or(0)
    }

    /// Operations (`service:Operation`) called with `account_id` as the caller.
    pub fn calls_by(&self, account_id: &str) -> Vec<String> {
        operations(&self.control(
            "GET",
            &format!("/_rdsguard/calls?account_id={account_id}"),
            None,
        ))
    }

    /// Turns moto's IAM enforcement on (every request needs a known key and a policy allowing it) or
    /// off. Server-wide: only for a private emulator.
    pub fn enforce_iam(&self, on: bool) {
        let body = if on { "0" } else { "inf" };
        request_at(
            &self.endpoint,
            "POST",
            "/moto-api/reset-auth",
            "text/plain",
            Some(body.to_string()),
        );
    }

    /// Kills the launcher (SIGKILL, by its pid) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin = None;
    }
}

impl Drop for PrivateEmulator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn operations(calls: &Value) -> Vec<String> {
    calls["calls"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| {
                    format!(
                        "{}:{}",
                        c["service"].as_str().unwrap_or(""),
                        c["operation"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One HTTP/1.1 request to an emulator on 127.0.0.1; asserts a 200 and returns the JSON answer.
fn request_at(
    endpoint: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<String>,
) -> Value {
    let address = endpoint.trim_start_matches("http://").to_string();
    let body = body.unwrap_or_default();
    let mut stream = TcpStream::connect(&address).expect("connect to the emulator");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read answer");
    let (head, payload) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}\n{payload}"
    );
    serde_json::from_str(payload.trim()).unwrap_or(Value::Null)
}

/// Builds an organization from a seeder spec in the emulator at `endpoint`.
pub fn seed_at(endpoint: &str, spec: Value) -> Org {
    let seeder = repo().join("tests/emulator/seed.py");
    let args = [seeder.to_str().expect("utf-8 path"), "--endpoint", endpoint];
    Org {
        seeded: run_python(&args, &spec, "seeding"),
    }
}

/// Runs a Python program with the emulator's interpreter (boto3 and moto installed): `input` as JSON on
/// stdin, its stdout parsed as JSON. For test set-up the Rust SDK here cannot do (IAM).
pub fn python_json(program: &str, input: &Value) -> Value {
    run_python(&["-c", program], input, "python")
}

/// The emulator's Python with `args`, `input` as JSON on stdin; its stdout as JSON. `what` names it in
/// failures (with its stderr).
fn run_python(args: &[&str], input: &Value, what: &str) -> Value {
    run_json(Command::new(python()).args(args), input, what)
}

/// Runs `command` with `input` as JSON on stdin; its stdout as JSON. `what` names it in failures
/// (with its stderr).
pub fn run_json(command: &mut Command, input: &Value, what: &str) -> Value {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("send input");
    let output = child.wait_with_output().expect("output");
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON: {e}"))
}

impl Org {
    /// Like [`Org::rdsguard`], against the emulator at `endpoint` (e.g. a [`PrivateEmulator`]'s).
    pub fn rdsguard_at(&self, endpoint: &str) -> Cmd {
        let mut cmd = Cmd::new();
        cmd.aws(endpoint, "us-east-1", &self.seeded["credentials"]);
        cmd
    }
}

impl Cmd {
    /// AWS's endpoint, region and the credentials `keys` (the emulator's `access_key_id`,
    /// `secret_access_key` and, when temporary, `session_token`).
    pub fn aws(&mut self, endpoint: &str, region: &str, keys: &Value) -> &mut Self {
        let key = |name: &str| keys[name].as_str().unwrap_or_default().to_string();
        self.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", region)
            .env("AWS_ACCESS_KEY_ID", key("access_key_id"))
            .env("AWS_SECRET_ACCESS_KEY", key("secret_access_key"));
        if keys["session_token"].is_string() {
            self.env("AWS_SESSION_TOKEN", key("session_token"));
        }
        self
    }

    /// Starts the binary with stdout and stderr captured; finish it with [`wait_bounded`].
    pub fn spawn_captured(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rdsguard")
    }

    /// Every file in the command's folder (recursively), for greps over a run's outputs.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    }
}

/// Waits for a child started with [`Cmd::spawn_captured`] (its pipes drained meanwhile), killing it
/// after `limit`.
pub fn wait_bounded(mut child: Child, limit: std::time::Duration) -> Run {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll rdsguard") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("reap rdsguard");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// How many requests the shared emulator's fault `id` has matched so far.
pub fn fault_hits(id: u64) -> u64 {
    fault_count(id, "hits")
}

/// How many requests the delay fault `id` has carried out and holds the answer of.
fn fault_held(id: u64) -> u64 {
    fault_count(id, "held")
}

fn fault_count(id: u64, count: &str) -> u64 {
    control("GET", "/_rdsguard/faults", None)["faults"]
        .as_array()
        .and_then(|faults| faults.iter().find(|f| f["id"] == id))
        .and_then(|f| f[count].as_u64())
        .unwrap_or(0)
}

/// A source's checks of `findings.json` that neither pass nor skip, as `id=STATUS`.
pub fn failing_checks(source: &Value) -> Vec<String> {
    let checks = source["checks"].as_array().into_iter().flatten();
    let failing = checks.filter(|c| c["status"] != "PASS" && c["status"] != "SKIP");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    failing
        .map(|c| format!("{}={}", text(&c["id"]), text(&c["status"])))
        .collect()
}

/// `account key/identifier` -> (status, the checks that are not PASS or SKIP, as `id=STATUS`): what
/// an audit concluded, in the seeded organization's own names.
pub fn verdicts(org: &Org, findings: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    let names: BTreeMap<String, String> = org.seeded["accounts"]
        .as_object()
        .expect("accounts")
        .iter()
        .map(|(key, id)| (id.as_str().unwrap_or_default().to_string(), key.clone()))
        .collect();
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            let account = s["account_id"].as_str().unwrap_or_default();
            let key = format!(
                "{}/{}",
                names.get(account).map(String::as_str).unwrap_or(account),
                s["identifier"].as_str().unwrap_or_default()
            );
            let failing = failing_checks(s);
            (
                key,
                (
                    s["status"].as_str().unwrap_or_default().to_string(),
                    failing,
                ),
            )
        })
        .collect()
}

/// A call a run makes: (service, operation, account id).
pub type Call<'a> = (&'a str, &'a str, &'a str);

/// Runs `args` with the answer to `call` held back for 30 s, and kills the run (SIGKILL) once its
/// journal (`journal`, in the command's folder) says `step` started and the emulator has carried
/// the call out (the fault's `held` count): the run never sees its answer. Waiting on the call
/// itself, not on a fixed time, keeps a slow machine from killing the run before the call is made.
/// Returns the journal's path.
pub fn kill_mid_call(
    cmd: &Cmd,
    args: &[&str],
    call: Call<'_>,
    journal: &str,
    step: &str,
) -> PathBuf {
    let (service, operation, account_id) = call;
    let fault = inject(serde_json::json!({
        "service": service, "operation": operation, "account_id": account_id, "delay_seconds": 30
    }));
    let mut child = cmd.spawn(args);
    let journal = cmd.path(journal);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let started = format!("\"step\":\"{step}\"");
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("\"event\":\"start\"") && text.contains(&started) && fault_held(fault) > 0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "step {step} never started or never called {operation}: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    remove_fault(fault);
    journal
}

/// A seed of the vault and prod accounts with their keys in `region` (the vault's `alias/rds-vault`;
/// prod's `alias/rds-share`, granted to the vault), and what `more` adds (its `keys` appended).
pub fn vault_and_prod(region: &str, more: Value) -> Value {
    let mut spec = json!({
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": region, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": region, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ]
    });
    for (key, value) in more.as_object().cloned().unwrap_or_default() {
        match (key.as_str(), value) {
            ("keys", Value::Array(keys)) => {
                if let Some(all) = spec["keys"].as_array_mut() {
                    all.extend(keys);
                }
            }
            (_, value) => spec[key] = value,
        }
    }
    spec
}

/// Creates the Secrets Manager secret `name` holding `value` (JSON), with `config`'s account,
/// region and credentials.
pub fn create_secret(config: &aws_config::SdkConfig, name: &str, value: &Value) {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let request = client.create_secret().name(name);
    let sent = request.secret_string(value.to_string()).send();
    block_on(sent).expect("create the secret");
}

impl Org {
    /// The DB instances of the account `account_key` in `region`, as AWS describes them.
    pub fn db_instances(
        &self,
        account_key: &str,
        region: &str,
    ) -> Vec<aws_sdk_rds::types::DbInstance> {
        let client = aws_sdk_rds::Client::new(&self.sdk(account_key, region));
        let out = block_on(client.describe_db_instances().send()).expect("DescribeDBInstances");
        out.db_instances().to_vec()
    }
}
