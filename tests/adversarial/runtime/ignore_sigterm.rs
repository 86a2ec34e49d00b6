// Ignores SIGTERM, leaves a daemonized child behind (new session, also ignoring SIGTERM) and sleeps forever.
pub fn main() {
    unsafe { super::common::signal(15, super::common::SIG_IGN); }
    let pid = unsafe { super::common::fork() };
    if pid == 0 {
        unsafe { super::common::setsid(); }
        loop { std::thread::sleep(std::time::Duration::from_secs(60)); }
    }
    println!("left child {pid} behind");
    loop { std::thread::sleep(std::time::Duration::from_secs(60)); }
}
