//! `fake-gitlab`: the fake as a process, for the demo, benchmarks and
//! shell-driven tests that run registry-gc as a separate binary.

use fake_gitlab::{FakeGitlab, Faults, Fixture};
use std::process::ExitCode;

const HELP: &str = "\
fake-gitlab: a stateful fake of the GitLab REST API endpoints registry-gc uses

Usage: fake-gitlab --fixture FILE [options]

Options:
  --fixture FILE     Instance to serve (see component-tests/fixtures/README.md)
  --addr ADDR        Address to listen on [default: 127.0.0.1:0]
  --url-file PATH    Write the API URL (http://HOST:PORT/api/v4) to PATH,
                     one line without a trailing newline, once listening
  --faults FILE      Fault configuration JSON (as PUT /__fake/faults takes)
  --latency-ms N     Latency added to every /api/v4 response (overrides
                     latency_ms of --faults)
  -h, --help         Show this help

Prints `fake-gitlab listening on http://HOST:PORT/api/v4` and serves until
killed. Control endpoints: GET /__fake/stats, POST /__fake/stats/reset,
GET|PUT /__fake/faults, GET /__fake/state.
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-gitlab: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut fixture = None;
    let mut addr = "127.0.0.1:0".to_string();
    let mut url_file = None;
    let mut faults_file = None;
    let mut latency = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--fixture" => fixture = Some(value()?),
            "--addr" => addr = value()?,
            "--url-file" => url_file = Some(value()?),
            "--faults" => faults_file = Some(value()?),
            "--latency-ms" => {
                let v = value()?;
                latency = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--latency-ms: not a number: {v}"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let fixture_path = fixture.ok_or("--fixture FILE is required (try --help)")?;
    let fixture = Fixture::from_path(&fixture_path)?;
    let mut faults = match faults_file {
        None => Faults::default(),
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {p}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{p}: {e}"))?
        }
    };
    if let Some(ms) = latency {
        faults.latency_ms = ms;
    }
    faults.validate()?;

    // Before any thread starts, so that each inherits the mask and the main thread alone takes
    // them (a registry the fake started inherits none: std clears the mask when it spawns).
    let stop_signals = signals::block_termination();
    let server =
        FakeGitlab::start_on(fixture, &addr).map_err(|e| format!("cannot serve on {addr}: {e}"))?;
    server.set_faults(faults);
    let url = server.api_url();
    if let Some(p) = url_file {
        // Write then rename, so a script polling for the file never reads
        // half a URL.
        let tmp = format!("{p}.tmp");
        std::fs::write(&tmp, &url)
            .and_then(|_| std::fs::rename(&tmp, &p))
            .map_err(|e| format!("cannot write {p}: {e}"))?;
    }
    println!("fake-gitlab listening on {url}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SIGTERM or SIGINT (a script stopping the fake): stop the registry and remove its
    // storage, which a default-action death would leave behind under /dev/shm.
    let signal = signals::wait(&stop_signals);
    server.stop_registry();
    drop(server);
    eprintln!("fake-gitlab: stopped by signal {signal}");
    Ok(())
}

/// The termination signals, taken synchronously (`sigwait`) rather than by a handler.
mod signals {
    /// `sigset_t` as glibc and musl lay it out on Linux: 1024 bits.
    #[repr(C)]
    pub struct SigSet([u64; 16]);

    extern "C" {
        fn sigemptyset(set: *mut SigSet) -> i32;
        fn sigaddset(set: *mut SigSet, signal: i32) -> i32;
        fn pthread_sigmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
        fn sigwait(set: *const SigSet, signal: *mut i32) -> i32;
    }
    const SIG_BLOCK: i32 = 0;
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;

    /// Blocks SIGINT and SIGTERM in the calling thread (and the threads it starts next).
    pub fn block_termination() -> SigSet {
        let mut set = SigSet([0; 16]);
        // SAFETY: `set` is a valid, initialised sigset_t; the calls only read and write it
        // and this thread's signal mask.
        unsafe {
            sigemptyset(&mut set);
            sigaddset(&mut set, SIGINT);
            sigaddset(&mut set, SIGTERM);
            pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut());
        }
        set
    }

    /// Waits for one of the signals of `set`, which must be blocked.
    pub fn wait(set: &SigSet) -> i32 {
        let mut signal = 0;
        // SAFETY: `set` is a valid sigset_t and `signal` a valid out-pointer.
        unsafe { sigwait(set, &mut signal) };
        signal
    }
}
