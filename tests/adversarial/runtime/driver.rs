// Multi-call driver: `driver NAME` runs runtime/NAME.rs. One rustc invocation builds the whole runtime corpus.
mod common;
mod tcp_connect; mod resolve_host; mod write_outside; mod read_secret; mod env_token; mod fork_bomb; mod alloc_8gib;
mod disk_10gib; mod stdout_1gib; mod spin_forever; mod ignore_sigterm; mod kill_parent; mod ptrace_attach; mod proc_walk;
mod symlink_output; mod dotdot_escape;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match name.as_str() {
        "tcp_connect" => tcp_connect::main(), "resolve_host" => resolve_host::main(), "write_outside" => write_outside::main(),
        "read_secret" => read_secret::main(), "env_token" => env_token::main(), "fork_bomb" => fork_bomb::main(),
        "alloc_8gib" => alloc_8gib::main(), "disk_10gib" => disk_10gib::main(), "stdout_1gib" => stdout_1gib::main(),
        "spin_forever" => spin_forever::main(), "ignore_sigterm" => ignore_sigterm::main(), "kill_parent" => kill_parent::main(),
        "ptrace_attach" => ptrace_attach::main(), "proc_walk" => proc_walk::main(), "symlink_output" => symlink_output::main(),
        "dotdot_escape" => dotdot_escape::main(),
        _ => { eprintln!("unknown attack '{name}'"); std::process::exit(2) }
    }
}
