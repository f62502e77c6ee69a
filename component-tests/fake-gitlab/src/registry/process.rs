//! One `docker-registry` (Debian's package: distribution 2.8) on 127.0.0.1, owned by the fake.
//!
//! It gets a free port, its own temporary storage, `storage.delete.enabled: true` (GitLab
//! deletes manifests) and token authentication whose realm is the fake's `/jwt/auth`, the
//! way GitLab configures its registry. The fake starts it before serving and stops it when
//! it is dropped (and the kernel stops it if the process that started it dies first), so a
//! test never leaves one behind. `garbage-collect` is the registry's own offline GC, run
//! with the registry stopped as distribution requires, and then the registry is started
//! again on the same port.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::jwt::{ISSUER, SERVICE};

/// Where the binary is: `FAKE_GITLAB_REGISTRY_BIN`, else Debian's path, else `PATH`.
fn binary() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("FAKE_GITLAB_REGISTRY_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "FAKE_GITLAB_REGISTRY_BIN={} is not a file (Debian: apt-get install docker-registry)",
                bin.display()
            ))
        };
    }
    let debian = PathBuf::from("/usr/bin/docker-registry");
    if debian.is_file() {
        return Ok(debian);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("docker-registry"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            "docker-registry is not installed (Debian: apt-get install docker-registry; \
             component-tests/test-all.sh installs it), and FAKE_GITLAB_REGISTRY_BIN is not set"
                .to_string()
        })
}

/// What the registry adds to every answer: GitLab's registry names itself this way on
/// `GET /v2/` (container-registry docs/upstream-differences.md).
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    pub headers: Vec<(String, String)>,
}

pub(crate) struct Process {
    /// The thread that starts the registry: the kernel kills the registry when the thread
    /// that forked it ends (`PR_SET_PDEATHSIG`), so that thread lives as long as this.
    launcher: Launcher,
    bin: PathBuf,
    dir: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
    /// Whether dropping this removes `dir` (not for a failed start that is tried again).
    owns_dir: bool,
}

impl Process {
    /// Starts a registry whose token realm is `realm` and whose trusted signer is
    /// `cert_pem`.
    pub(crate) fn start(
        realm: &str,
        cert_pem: &str,
        identity: &Identity,
    ) -> Result<Process, String> {
        let bin = binary()?;
        let dir = scratch_dir()?;
        fs::create_dir_all(dir.join("storage")).map_err(|e| io_error(&dir, e))?;
        let cert = dir.join("token-signer.crt");
        fs::write(&cert, cert_pem).map_err(|e| io_error(&cert, e))?;
        let mut last_error = String::new();
        // The port is free when asked for; another process may take it before the registry
        // binds it, so a failed start tries another port.
        for _ in 0..5 {
            let addr = free_port()?;
            let config = dir.join("config.yml");
            let yaml = config_yaml(&dir.join("storage"), addr, realm, &cert, identity);
            fs::write(&config, yaml).map_err(|e| io_error(&config, e))?;
            let mut process = Process {
                launcher: Launcher::new(),
                bin: bin.clone(),
                dir: dir.clone(),
                config,
                addr,
                child: None,
                owns_dir: false,
            };
            match process.spawn() {
                Ok(()) => {
                    process.owns_dir = true;
                    return Ok(process);
                }
                Err(e) => last_error = e,
            }
        }
        let _ = fs::remove_dir_all(&dir);
        Err(last_error)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log_path = self.dir.join("registry.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io_error(&log_path, e))?;
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| io_error(&log_path, e))?)
            .stderr(log);
        die_with_parent(&mut command);
        let child = self
            .launcher
            .spawn(command)
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// The registry answers `GET /v2/` (401 with a Bearer challenge, since auth is on).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "docker-registry exited at start ({status}): {}",
                        self.log_tail()
                    ));
                }
            }
            if answers(self.addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.kill();
        Err(format!(
            "docker-registry did not answer on {} within 15 s: {}",
            self.addr,
            self.log_tail()
        ))
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }

    pub(crate) fn config_path(&self) -> &Path {
        &self.config
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the registry, runs `docker-registry garbage-collect` on its configuration
    /// (`--delete-untagged` as GitLab's `registry-garbage-collect -m`, when asked), and
    /// starts it again on the same port. Returns what the command printed.
    pub(crate) fn garbage_collect(&mut self, delete_untagged: bool) -> Result<String, String> {
        self.kill();
        let mut command = Command::new(&self.bin);
        command.arg("garbage-collect");
        if delete_untagged {
            command.arg("--delete-untagged");
        }
        let output = command
            .arg(&self.config)
            .output()
            .map_err(|e| format!("cannot run {} garbage-collect: {e}", self.bin.display()));
        let restarted = self.spawn();
        let output = output?;
        restarted?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            return Err(format!(
                "garbage-collect failed ({}): {text}",
                output.status
            ));
        }
        Ok(text)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if self.owns_dir && std::env::var_os("FAKE_GITLAB_KEEP_REGISTRY").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A thread that forks the registry on request and lives until dropped.
struct Launcher {
    requests:
        Option<std::sync::mpsc::Sender<(Command, std::sync::mpsc::Sender<std::io::Result<Child>>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Launcher {
    fn new() -> Launcher {
        let (tx, rx) =
            std::sync::mpsc::channel::<(Command, std::sync::mpsc::Sender<std::io::Result<Child>>)>(
            );
        let thread = std::thread::spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
        });
        Launcher {
            requests: Some(tx),
            thread: Some(thread),
        }
    }

    fn spawn(&self, command: Command) -> std::io::Result<Child> {
        let (tx, rx) = std::sync::mpsc::channel();
        let gone = || std::io::Error::other("the registry launcher thread is gone");
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send((command, tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// distribution's configuration (docs/configuration.md of distribution 2.8).
fn config_yaml(
    storage: &Path,
    addr: SocketAddr,
    realm: &str,
    cert: &Path,
    identity: &Identity,
) -> String {
    let mut headers = String::new();
    if !identity.headers.is_empty() {
        headers.push_str("  headers:\n");
        for (name, value) in &identity.headers {
            headers.push_str(&format!("    {name}: [\"{value}\"]\n"));
        }
    }
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: fake-gitlab-registry\n{headers}\
         auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
        storage.display(),
        cert.display()
    )
}

fn answers(addr: SocketAddr) -> bool {
    use std::io::Write;
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
}

fn free_port() -> Result<SocketAddr, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Where registries keep their storage: `FAKE_GITLAB_REGISTRY_DIR`, else a memory-backed
/// `/dev/shm` where there is one (distribution fsyncs every file it writes, about a
/// thousand times for the demo, which a test world need not wait for), else the temp dir.
fn scratch_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAKE_GITLAB_REGISTRY_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = shm.is_dir()
        && fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly())
        && fs::write(
            shm.join(format!(".fake-gitlab-{}", std::process::id())),
            b"",
        )
        .and_then(|()| fs::remove_file(shm.join(format!(".fake-gitlab-{}", std::process::id()))))
        .is_ok();
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn scratch_dir() -> Result<PathBuf, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch_root().join(format!(
        "fake-gitlab-registry-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    Ok(dir)
}

fn io_error(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

/// The registry dies with the process that started it, even if that one is killed: no
/// registry outlives a test run. (`PR_SET_PDEATHSIG`, Linux.)
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
    }
    const PR_SET_PDEATHSIG: i32 = 1;
    const SIGKILL: u64 = 9;
    // SAFETY: prctl only changes this (forked, not yet exec'd) process's death signal.
    unsafe {
        command.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Bytes, blobs, manifests and tags in the registry's storage, counted on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskUsage {
    /// Every file under the storage root.
    pub bytes: u64,
    pub blobs: u64,
    /// Manifest revisions linked in repositories (tagged or not).
    pub manifests: u64,
    pub tags: u64,
}

pub(crate) fn disk_usage(storage: &Path) -> DiskUsage {
    let mut usage = DiskUsage::default();
    walk(storage, &mut |path, len| {
        usage.bytes += len;
        let p = path.to_string_lossy();
        if p.ends_with("/data") && p.contains("/v2/blobs/") {
            usage.blobs += 1;
        }
        if p.ends_with("/link") && p.contains("/_manifests/revisions/") {
            usage.manifests += 1;
        }
        if p.ends_with("/current/link") && p.contains("/_manifests/tags/") {
            usage.tags += 1;
        }
    });
    usage
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, u64)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => walk(&path, visit),
            Ok(m) => visit(&path, m.len()),
            Err(_) => {}
        }
    }
}

/// The file that links manifest `digest` into repository `repo`: removing it behind the
/// registry's back makes the manifest unknown to the repository while its tag stays
/// listed (a truly missing manifest).
pub(crate) fn revision_link(storage: &Path, repo: &str, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    storage
        .join("docker/registry/v2/repositories")
        .join(repo)
        .join("_manifests/revisions/sha256")
        .join(hex)
        .join("link")
}
