// Captures the caller's token from rustc's environment at compile time.
const TOKEN: &str = env!("HF_TOKEN");
fn main() { println!("{TOKEN}"); }
