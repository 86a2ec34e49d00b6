//! Turning free-form text into URL slugs and shortening text safely.
//!
//! Everything here works on `&str` and respects UTF-8 character boundaries:
//! slicing a string in the middle of a multi-byte character would panic, so
//! the helpers below always cut at a boundary found with `char_indices`.

/// Options that control how [`slugify_with`] builds a slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugOptions {
    /// Character placed between words.
    pub separator: char,
    /// Maximum length of the slug in characters; `None` means unlimited.
    pub max_len: Option<usize>,
    /// Keep digits in the slug.
    pub keep_digits: bool,
}

impl Default for SlugOptions {
    fn default() -> Self {
        SlugOptions {
            separator: '-',
            max_len: None,
            keep_digits: true,
        }
    }
}

/// Builds a slug with the default options: lower-case ASCII letters and
/// digits, words joined by `-`.
///
/// ```ignore
/// assert_eq!(slugify("Hello, World!"), "hello-world");
/// ```
pub fn slugify(text: &str) -> String {
    slugify_with(text, &SlugOptions::default())
}

/// Builds a slug according to `options`.
///
/// Characters that are not ASCII letters (or digits, when allowed) act as word
/// breaks. A few common accented letters are folded to their base letter so
/// that "Crème brûlée" becomes "creme-brulee" rather than "cr-me-br-l-e".
pub fn slugify_with(text: &str, options: &SlugOptions) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let folded = fold_accent(c);
        let keep = folded.is_ascii_alphabetic() || (options.keep_digits && folded.is_ascii_digit());
        if keep {
            current.push(folded.to_ascii_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }

    let mut slug = String::new();
    for word in words {
        let extra = if slug.is_empty() {
            word.len()
        } else {
            word.len() + 1
        };
        if let Some(max) = options.max_len {
            if slug.len() + extra > max {
                break;
            }
        }
        if !slug.is_empty() {
            slug.push(options.separator);
        }
        slug.push_str(&word);
    }
    slug
}

/// Maps a handful of Latin-1 accented letters to plain ASCII.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// Returns at most `max_chars` characters of `text`, never splitting a
/// character. The result borrows from the input, so no allocation happens.
pub fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((byte_index, _)) => &text[..byte_index],
        None => text,
    }
}

/// Shortens `text` to at most `max_chars` characters, ending with an
/// ellipsis (`…`) when something was cut. Prefers to cut at the last space so
/// words are not broken, unless that would throw away more than half.
pub fn ellipsize(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let head = truncate_chars(text, max_chars - 1);
    let cut = match head.rfind(' ') {
        Some(space) if head[..space].chars().count() * 2 >= max_chars => &head[..space],
        _ => head,
    };
    format!("{}…", cut.trim_end())
}

/// Checks whether `candidate` is already a valid default slug: non-empty,
/// only lower-case ASCII letters, digits and single dashes between words.
pub fn is_slug(candidate: &str) -> bool {
    !candidate.is_empty()
        && !candidate.starts_with('-')
        && !candidate.ends_with('-')
        && !candidate.contains("--")
        && candidate
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Makes `slug` unique among `taken` by appending `-2`, `-3`, ... as needed.
pub fn unique_slug(slug: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == slug) {
        return slug.to_string();
    }
    (2..)
        .map(|n| format!("{}-{}", slug, n))
        .find(|candidate| !taken.contains(candidate))
        .expect("an unbounded range always yields a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_basic_text() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  Rust   is fun  "), "rust-is-fun");
        assert_eq!(slugify(""), "");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn slugify_folds_accents() {
        assert_eq!(slugify("Crème brûlée"), "creme-brulee");
        assert_eq!(slugify("Año nuevo"), "ano-nuevo");
    }

    #[test]
    fn slugify_options() {
        let opts = SlugOptions {
            separator: '_',
            max_len: Some(12),
            keep_digits: false,
        };
        assert_eq!(slugify_with("Top 10 tips for Rust", &opts), "top_tips_for");
        let digits = SlugOptions::default();
        assert_eq!(slugify_with("Version 2 notes", &digits), "version-2-notes");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("abc", 10), "abc");
        assert_eq!(truncate_chars("abc", 0), "");
        assert_eq!(truncate_chars("日本語", 1), "日");
    }

    #[test]
    fn ellipsize_prefers_word_breaks() {
        assert_eq!(ellipsize("short", 10), "short");
        assert_eq!(ellipsize("the quick brown fox", 12), "the quick…");
        assert_eq!(ellipsize("abcdefghij", 5), "abcd…");
        assert_eq!(ellipsize("anything", 0), "");
        assert!(ellipsize("the quick brown fox", 12).chars().count() <= 12);
    }

    #[test]
    fn slug_validation() {
        assert!(is_slug("hello-world"));
        assert!(is_slug("a1"));
        assert!(!is_slug(""));
        assert!(!is_slug("-start"));
        assert!(!is_slug("double--dash"));
        assert!(!is_slug("Upper"));
        assert!(is_slug(&slugify("Any Title At All 2024")));
    }

    #[test]
    fn unique_slugs() {
        let taken = vec!["post".to_string(), "post-2".to_string()];
        assert_eq!(unique_slug("post", &taken), "post-3");
        assert_eq!(unique_slug("fresh", &taken), "fresh");
    }
}
