//! The `registry-gc` command: arguments, logging and exit codes; the work is in the library.

use registry_gc::report::dotenv::Figures;
use registry_gc::{config, run, signals};
use std::io::Write;

fn main() {
    one_malloc_arena();
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {}
        (Some("-h" | "--help"), None) => {
            print!("{}", config::help_text());
            return;
        }
        (Some("-V" | "--version"), None) => {
            println!("registry-gc {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        (Some(arg), _) => {
            eprintln!("error: unexpected argument `{arg}`: registry-gc is configured by environment variables (see registry-gc --help)");
            std::process::exit(run::exit::CONFIG);
        }
    }
    init_logging();

    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            // A later job reads `config-error` in gc.env, never an earlier run's figures.
            let figures = Figures::nothing_done(None, run::exit::status(run::exit::CONFIG), 1);
            run::write_dotenv(&config::dotenv_file_from_env(), &figures);
            std::process::exit(run::exit::CONFIG);
        }
    };
    let interrupt = match signals::Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            std::process::exit(run::exit::CONFIG);
        }
    };
    std::process::exit(run::run(&config, interrupt));
}

/// glibc gives each thread that allocates an arena of its own (up to 8 per core). The workers
/// that gather the facts allocate what the plan is then built from on the main thread; freed,
/// their memory stays in their arenas, where the main thread never reuses it: about 10 MB of
/// RSS at 100,000 tags. One arena lets the plan reuse it. The workers wait on the network,
/// not on the allocator's lock. (musl, the shipped build, has a single heap anyway.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    /// `M_ARENA_MAX` in glibc's <malloc.h>.
    const M_ARENA_MAX: std::ffi::c_int = -8;
    // SAFETY: mallopt only sets a tunable; called before any other thread exists.
    unsafe {
        mallopt(M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

/// stderr in cargo's style: `warning: …`, `error: …`, progress as plain lines. `RUST_LOG`
/// overrides the level.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| match record.level() {
            log::Level::Error => writeln!(buf, "error: {}", record.args()),
            log::Level::Warn => writeln!(buf, "warning: {}", record.args()),
            log::Level::Info => writeln!(buf, "{}", record.args()),
            _ => writeln!(
                buf,
                "{}: {}",
                record.level().as_str().to_lowercase(),
                record.args()
            ),
        })
        .init();
}
