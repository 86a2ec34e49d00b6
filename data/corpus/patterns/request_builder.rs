//! The builder pattern: constructing a value with many optional parts.
//!
//! `RequestBuilder` collects settings through chained methods that take and
//! return `self`, then `build` validates everything at once and produces an
//! immutable `Request`. Required fields are checked in `build`, so a
//! half-configured request can never escape.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn allows_body(self) -> bool {
        matches!(self, Method::Post | Method::Put)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        })
    }
}

/// A validated, immutable request description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    url: String,
    headers: BTreeMap<String, String>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

impl Request {
    pub fn builder(method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(method, url)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL with the query string appended.
    pub fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let pairs: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", k, v))
            .collect();
        format!("{}?{}", self.url, pairs.join("&"))
    }

    /// The request line and headers as they would go over the wire.
    pub fn head(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.full_url());
        for (k, v) in &self.headers {
            out.push_str(&format!("{}: {}\n", k, v));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    BadUrl(String),
    BodyNotAllowed(Method),
    BadHeader(String),
    ZeroTimeout,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::BadUrl(u) => {
                write!(f, "url must start with http:// or https://, got {:?}", u)
            }
            BuildError::BodyNotAllowed(m) => write!(f, "{} requests cannot carry a body", m),
            BuildError::BadHeader(h) => write!(f, "invalid header name {:?}", h),
            BuildError::ZeroTimeout => write!(f, "timeout must be greater than zero"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Collects request settings; nothing is validated until [`RequestBuilder::build`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RequestBuilder {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

impl RequestBuilder {
    pub fn new(method: Method, url: &str) -> Self {
        RequestBuilder {
            method,
            url: url.trim().to_string(),
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Adds a header; a later header with the same name replaces an earlier one.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the body and a matching Content-Length header.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    /// Sets a JSON body from an already serialized string.
    pub fn json(self, text: &str) -> Self {
        self.header("Content-Type", "application/json").body(text)
    }

    pub fn bearer(self, token: &str) -> Self {
        let value = format!("Bearer {}", token);
        self.header("Authorization", &value)
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Applies a function only when `condition` holds, keeping chains flat.
    pub fn when(self, condition: bool, f: impl FnOnce(Self) -> Self) -> Self {
        if condition {
            f(self)
        } else {
            self
        }
    }

    pub fn build(self) -> Result<Request, BuildError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(BuildError::BadUrl(self.url));
        }
        if self.body.is_some() && !self.method.allows_body() {
            return Err(BuildError::BodyNotAllowed(self.method));
        }
        if self.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let mut headers = BTreeMap::new();
        for (name, value) in self.headers {
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(BuildError::BadHeader(name));
            }
            headers.insert(name.to_ascii_lowercase(), value);
        }
        if let Some(body) = &self.body {
            headers.insert("content-length".to_string(), body.len().to_string());
        }
        Ok(Request {
            method: self.method,
            url: self.url,
            headers,
            query: self.query,
            body: self.body,
            timeout: self.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_get_request() {
        let req = Request::builder(Method::Get, "https://api.example.org/items")
            .query("page", 2)
            .query("sort", "name")
            .header("Accept", "application/json")
            .build()
            .unwrap();
        assert_eq!(
            req.full_url(),
            "https://api.example.org/items?page=2&sort=name"
        );
        assert_eq!(req.header("ACCEPT"), Some("application/json"));
        assert_eq!(req.body(), None);
        assert_eq!(req.timeout(), Duration::from_secs(30));
        assert_eq!(req.method(), Method::Get);
    }

    #[test]
    fn json_body_sets_headers() {
        let req = Request::builder(Method::Post, "http://localhost/submit")
            .json("{\"a\":1}")
            .bearer("t0k3n")
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        assert_eq!(req.body(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(
            req.head(),
            "POST http://localhost/submit\nauthorization: Bearer t0k3n\ncontent-length: 7\ncontent-type: application/json\n"
        );
    }

    #[test]
    fn later_headers_win() {
        let req = Request::builder(Method::Get, "https://x.y")
            .header("X-Mode", "a")
            .header("x-mode", "b")
            .build()
            .unwrap();
        assert_eq!(req.header("X-Mode"), Some("b"));
    }

    #[test]
    fn conditional_steps() {
        for debug in [true, false] {
            let req = Request::builder(Method::Get, "https://x.y")
                .when(debug, |b| b.header("X-Debug", "1"))
                .build()
                .unwrap();
            assert_eq!(req.header("x-debug").is_some(), debug);
        }
    }

    #[test]
    fn validation_errors() {
        let err = Request::builder(Method::Get, "ftp://x")
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::BadUrl("ftp://x".into()));
        let err = Request::builder(Method::Get, "https://x")
            .body("data")
            .build()
            .unwrap_err();
        assert_eq!(err.to_string(), "GET requests cannot carry a body");
        let err = Request::builder(Method::Put, "https://x")
            .header("Bad Header", "v")
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::BadHeader("Bad Header".into()));
        let err = Request::builder(Method::Delete, "https://x")
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::ZeroTimeout);
    }
}
