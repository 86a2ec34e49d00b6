// Writes 10 GiB: ignores SIGXFSZ and moves on to a new file whenever one hits the size limit, alternating work dir and /tmp.
use std::io::Write;
pub fn main() {
    unsafe { super::common::signal(25, super::common::SIG_IGN); }
    let block = vec![0x5au8; 1 << 20];
    let mut total: u64 = 0;
    let mut n = 0;
    while total < 10 << 30 {
        let path = if n % 2 == 0 { format!("fill-{n}.bin") } else { format!("/tmp/fill-{n}.bin") };
        n += 1;
        let mut f = match std::fs::File::create(&path) { Ok(f) => f, Err(e) => { println!("{path}: {e}"); if n > 10_000 { break } continue } };
        loop {
            match f.write(&block) { Ok(0) => break, Ok(k) => total += k as u64, Err(_) => break }
            if total >= 10 << 30 { break }
        }
    }
    if total >= 10 << 30 { super::common::pwned("wrote 10 GiB") } else { super::common::blocked(&format!("stopped at {total} bytes")) }
}
