//! Validating user input and reporting *all* problems at once.
//!
//! `?` stops at the first error, which is right for I/O but annoying for a
//! sign-up form: users want to see every mistake. Here validators push
//! problems into a list, and `Result<Vec<T>, E>` collection shows the other
//! common pattern: turning many fallible items into one result.

use std::fmt;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// All problems found in a form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(Problem {
            field,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> Vec<&'static str> {
        self.0.iter().map(|p| p.field).collect()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for Problems {}

/// Raw, untrusted form input.
#[derive(Debug, Clone, Default)]
pub struct SignupForm {
    pub username: String,
    pub email: String,
    pub age: String,
    pub password: String,
}

/// A user that passed validation. Its fields are known to be sensible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub age: u8,
}

fn check_username(name: &str, problems: &mut Problems) {
    let len = name.chars().count();
    if !(3..=20).contains(&len) {
        problems.add("username", "must be 3 to 20 characters long");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        problems.add("username", "may only contain letters, digits and '_'");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        problems.add("username", "must not start with a digit");
    }
}

fn check_email(email: &str, problems: &mut Problems) {
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
            if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
                problems.add("email", "has a malformed domain");
            }
        }
        _ => problems.add("email", "must look like name@example.org"),
    }
}

fn check_age(age: &str, problems: &mut Problems) -> Option<u8> {
    match age.trim().parse::<u8>() {
        Ok(a) if a >= 13 => Some(a),
        Ok(_) => {
            problems.add("age", "you must be at least 13");
            None
        }
        Err(_) => {
            problems.add("age", "must be a number between 13 and 255");
            None
        }
    }
}

fn check_password(password: &str, username: &str, problems: &mut Problems) {
    if password.len() < 8 {
        problems.add("password", "must have at least 8 characters");
    }
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    let has_letter = password.chars().any(char::is_alphabetic);
    if !(has_digit && has_letter) {
        problems.add("password", "must mix letters and digits");
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        problems.add("password", "must not contain the username");
    }
}

/// Validates every field and returns either a user or every problem found.
pub fn validate(form: &SignupForm) -> Result<NewUser, Problems> {
    let mut problems = Problems::default();
    let username = form.username.trim();
    let email = form.email.trim().to_lowercase();
    check_username(username, &mut problems);
    check_email(&email, &mut problems);
    let age = check_age(&form.age, &mut problems);
    check_password(&form.password, username, &mut problems);
    match age {
        Some(age) if problems.is_empty() => Ok(NewUser {
            username: username.to_string(),
            email,
            age,
        }),
        _ => Err(problems),
    }
}

/// Parses a list of port numbers; the first bad one aborts with its index.
/// Shows `collect::<Result<Vec<_>, _>>()`.
pub fn parse_ports(items: &[&str]) -> Result<Vec<u16>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim()
                .parse::<u16>()
                .map_err(|e| format!("item {} ({:?}): {}", i, s, e))
        })
        .collect()
}

/// Splits items into those that parsed and the errors, keeping both.
pub fn partition_ports(items: &[&str]) -> (Vec<u16>, Vec<String>) {
    let (ok, bad): (Vec<_>, Vec<_>) = items
        .iter()
        .map(|s| s.trim().parse::<u16>().map_err(|_| s.to_string()))
        .partition(Result::is_ok);
    (
        ok.into_iter().filter_map(Result::ok).collect(),
        bad.into_iter().filter_map(Result::err).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(username: &str, email: &str, age: &str, password: &str) -> SignupForm {
        SignupForm {
            username: username.into(),
            email: email.into(),
            age: age.into(),
            password: password.into(),
        }
    }

    #[test]
    fn accepts_good_input() {
        let user = validate(&form(
            " ferris_42 ",
            "Ferris@Rust-Lang.org",
            "17",
            "crab2crab",
        ))
        .unwrap();
        assert_eq!(
            user,
            NewUser {
                username: "ferris_42".into(),
                email: "ferris@rust-lang.org".into(),
                age: 17
            }
        );
    }

    #[test]
    fn reports_every_problem() {
        let err = validate(&form("9x", "nope", "twelve", "short")).unwrap_err();
        assert_eq!(
            err.fields(),
            vec!["username", "username", "email", "age", "password", "password"]
        );
        assert!(err
            .to_string()
            .starts_with("username: must be 3 to 20 characters long; "));
    }

    #[test]
    fn specific_rules() {
        let err = validate(&form("alice", "a@b.c", "12", "alice123")).unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert_eq!(
            err.0[0],
            Problem {
                field: "age",
                message: "you must be at least 13".into()
            }
        );
        assert_eq!(err.0[1].message, "must not contain the username");
        let err = validate(&form("bob", "b@x..org", "30", "abcdefg1")).unwrap_err();
        assert_eq!(err.to_string(), "email: has a malformed domain");
    }

    #[test]
    fn collecting_results() {
        assert_eq!(
            parse_ports(&["80", " 443 ", "8080"]),
            Ok(vec![80, 443, 8080])
        );
        let err = parse_ports(&["80", "http", "99999"]).unwrap_err();
        assert_eq!(err, "item 1 (\"http\"): invalid digit found in string");
        assert_eq!(parse_ports(&[]), Ok(vec![]));
    }

    #[test]
    fn partitioning_results() {
        let (ok, bad) = partition_ports(&["1", "x", "65535", "65536"]);
        assert_eq!(ok, vec![1, 65535]);
        assert_eq!(bad, vec!["x", "65536"]);
    }
}
