//! The `registry-gc` command: arguments, logging and exit codes; the work is in the library.

use registry_gc::{config, run, signals};
use std::io::Write;

fn main() {
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
