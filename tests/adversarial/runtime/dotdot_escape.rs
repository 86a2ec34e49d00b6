// Writes ../ and ../../ paths, and checks whether it reached the host's parent directory (the test planted a canary there).
pub fn main() {
    let canary = super::common::target();
    for p in ["../escape.txt", "../../escape.txt", "../../../escape.txt"] {
        match std::fs::write(p, b"escaped") { Ok(_) => println!("wrote {p}"), Err(e) => println!("{p}: {e}") }
    }
    match std::fs::read_to_string(format!("../{canary}")) {
        Ok(_) => super::common::pwned("reached the host parent directory"),
        Err(e) => super::common::blocked(&format!("host parent not reachable: {e}")),
    }
}
