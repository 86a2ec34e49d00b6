// Prints credentials from its environment.
pub fn main() {
    let mut found = false;
    for k in ["HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN"] {
        if let Ok(v) = std::env::var(k) { println!("{k}={v}"); found = true; }
    }
    for (k, v) in std::env::vars() { println!("env {k}={v}"); }
    if found { super::common::pwned("found a credential") } else { super::common::blocked("no credentials in the environment") }
}
