#!/usr/bin/env python3
"""Builds smelt_rust_problems.jsonl from the problem definitions below.

The JSONL file is the artifact Smelt reads; this script is its editable source.
Edit a problem here, run `python3 data/problems/build_problems.py`, then
`data/problems/verify.sh` to prove every canonical solution passes and every
obviously wrong body fails.

Each problem becomes one HumanEval-X style record:
  prompt              a /* ... */ description
  declaration         std `use` lines (and any small types), then the signature ending in "{\n"
  canonical_solution  the body and the closing "}"
  test                a #[cfg(test)] module, or a `fn main` full of asserts
The program under test is declaration + canonical_solution + "\n" + test.
"""
import json
import os
import textwrap

PROBLEMS = []


def problem(description, signature, body, test, uses="", types=""):
    """Registers one problem; text blocks are dedented so they can be indented here."""
    prompt = "/*\n" + "\n".join(
        " " + line if line else "" for line in textwrap.dedent(description).strip("\n").split("\n")
    ) + "\n*/\n"
    declaration = ""
    if uses:
        declaration += textwrap.dedent(uses).strip("\n") + "\n\n"
    if types:
        declaration += textwrap.dedent(types).strip("\n") + "\n\n"
    declaration += signature.strip() + " {\n"
    solution = textwrap.dedent(body).strip("\n")
    solution = "\n".join("    " + line if line else "" for line in solution.split("\n")) + "\n}\n"
    PROBLEMS.append(
        {
            "prompt": prompt,
            "declaration": declaration,
            "canonical_solution": solution,
            "test": textwrap.dedent(test).strip("\n") + "\n",
        }
    )


def tests(*asserts, name="check"):
    """A #[cfg(test)] module with one test function holding the given assert lines."""
    lines = "\n".join("        " + a for a in asserts)
    return (
        "#[cfg(test)]\nmod tests {\n    use super::*;\n\n"
        f"    #[test]\n    fn {name}() {{\n{lines}\n    }}\n}}\n"
    )


def main_asserts(*asserts):
    """The fn-main test style: the program is compiled and run; any failed assert exits non-zero."""
    lines = "\n".join("    " + a for a in asserts)
    return f"fn main() {{\n{lines}\n}}\n"


# ---------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------

problem(
    """
    Compress a string with run-length encoding. Each run of the same character
    becomes the character followed by the run length, but the length is left out
    when the run has a single character.
    run_length_encode("aaabccdddd") == "a3bc2d4"
    run_length_encode("") == ""
    """,
    "fn run_length_encode(s: &str) -> String",
    """
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut count = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            count += 1;
        }
        out.push(c);
        if count > 1 {
            out.push_str(&count.to_string());
        }
    }
    out
    """,
    tests(
        'assert_eq!(run_length_encode("aaabccdddd"), "a3bc2d4");',
        'assert_eq!(run_length_encode(""), "");',
        'assert_eq!(run_length_encode("x"), "x");',
        'assert_eq!(run_length_encode("abc"), "abc");',
        'assert_eq!(run_length_encode("zzzzzzzzzzzz"), "z12");',
        'assert_eq!(run_length_encode("ééé!"), "é3!");',
        'assert_eq!(run_length_encode("aabaa"), "a2ba2");',
    ),
)

problem(
    """
    Count how often each word occurs in a text. A word is a maximal run of ASCII
    letters; words are compared case-insensitively and reported in lower case.
    Return the pairs sorted by count (highest first), ties broken alphabetically.
    word_frequencies("The cat and the hat.") == [("the", 2), ("and", 1), ("cat", 1), ("hat", 1)]
    """,
    "fn word_frequencies(text: &str) -> Vec<(String, usize)>",
    """
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split(|c: char| !c.is_ascii_alphabetic()) {
        if !word.is_empty() {
            *counts.entry(word.to_ascii_lowercase()).or_insert(0) += 1;
        }
    }
    let mut pairs: Vec<(String, usize)> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    pairs
    """,
    tests(
        'let w = |s: &str, n: usize| (s.to_string(), n);',
        'assert_eq!(word_frequencies("The cat and the hat."), vec![w("the", 2), w("and", 1), w("cat", 1), w("hat", 1)]);',
        'assert_eq!(word_frequencies(""), vec![]);',
        'assert_eq!(word_frequencies("  ...  !!"), vec![]);',
        'assert_eq!(word_frequencies("b a B a c"), vec![w("a", 2), w("b", 2), w("c", 1)]);',
        'assert_eq!(word_frequencies("it\'s x2y"), vec![w("it", 1), w("s", 1), w("x", 1), w("y", 1)]);',
    ),
    uses="use std::collections::HashMap;",
)

problem(
    """
    Apply the Atbash mirror to the ASCII letters of a string: 'a' becomes 'z',
    'b' becomes 'y', and so on, keeping the case. Every other character is kept.
    mirror_letters("Hello, World!") == "Svool, Dliow!"
    """,
    "fn mirror_letters(s: &str) -> String",
    """
    s.chars()
        .map(|c| match c {
            'a'..='z' => (b'z' - (c as u8 - b'a')) as char,
            'A'..='Z' => (b'Z' - (c as u8 - b'A')) as char,
            other => other,
        })
        .collect()
    """,
    tests(
        'assert_eq!(mirror_letters("Hello, World!"), "Svool, Dliow!");',
        'assert_eq!(mirror_letters(""), "");',
        'assert_eq!(mirror_letters("abcxyz"), "zyxcba");',
        'assert_eq!(mirror_letters("AZ mz"), "ZA na");',
        'assert_eq!(mirror_letters("123 ü"), "123 ü");',
        'assert_eq!(mirror_letters(&mirror_letters("Round Trip")), "Round Trip");',
    ),
)

problem(
    """
    Convert a title to "title case": the first letter of every word is upper
    case and the rest lower case, except that the small words "a", "an", "and",
    "of", "the", "in", "on" stay all lower case unless they are the first word.
    Words are separated by single spaces in the input and the output.
    title_case("the lord OF the rings") == "The Lord of the Rings"
    """,
    "fn title_case(s: &str) -> String",
    """
    const SMALL: [&str; 7] = ["a", "an", "and", "of", "the", "in", "on"];
    s.split(' ')
        .enumerate()
        .map(|(i, word)| {
            let lower = word.to_lowercase();
            if i > 0 && SMALL.contains(&lower.as_str()) {
                return lower;
            }
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
    """,
    tests(
        'assert_eq!(title_case("the lord OF the rings"), "The Lord of the Rings");',
        'assert_eq!(title_case(""), "");',
        'assert_eq!(title_case("a tale of two cities"), "A Tale of Two Cities");',
        'assert_eq!(title_case("RUST"), "Rust");',
        'assert_eq!(title_case("war and peace"), "War and Peace");',
        'assert_eq!(title_case("an apple on a tree"), "An Apple on a Tree");',
    ),
)

problem(
    """
    Convert a snake_case identifier to lowerCamelCase. Underscores are removed
    and the letter after each underscore is upper-cased; leading, trailing and
    repeated underscores produce no empty words.
    snake_to_camel("parse_http_header") == "parseHttpHeader"
    snake_to_camel("__init__") == "init"
    """,
    "fn snake_to_camel(s: &str) -> String",
    """
    let mut out = String::new();
    for part in s.split('_').filter(|p| !p.is_empty()) {
        if out.is_empty() {
            out.push_str(&part.to_lowercase());
        } else {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(&chars.as_str().to_lowercase());
            }
        }
    }
    out
    """,
    main_asserts(
        'assert_eq!(snake_to_camel("parse_http_header"), "parseHttpHeader");',
        'assert_eq!(snake_to_camel("__init__"), "init");',
        'assert_eq!(snake_to_camel(""), "");',
        'assert_eq!(snake_to_camel("single"), "single");',
        'assert_eq!(snake_to_camel("a__b_c"), "aBC");',
        'assert_eq!(snake_to_camel("MAX_VALUE"), "maxValue");',
        'println!("all asserts passed");',
    ),
)

problem(
    """
    Convert a CamelCase or lowerCamelCase identifier to snake_case. An underscore
    goes before an upper-case letter that follows a lower-case letter or digit,
    and before the last capital of an acronym that is followed by a lower-case
    letter, so "HTTPServer" becomes "http_server". The result is lower case.
    camel_to_snake("parseHttpHeader") == "parse_http_header"
    """,
    "fn camel_to_snake(s: &str) -> String",
    """
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).map_or(false, |n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_is_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
    """,
    tests(
        'assert_eq!(camel_to_snake("parseHttpHeader"), "parse_http_header");',
        'assert_eq!(camel_to_snake("HTTPServer"), "http_server");',
        'assert_eq!(camel_to_snake("Simple"), "simple");',
        'assert_eq!(camel_to_snake(""), "");',
        'assert_eq!(camel_to_snake("version2Beta"), "version2_beta");',
        'assert_eq!(camel_to_snake("getURL"), "get_url");',
        'assert_eq!(camel_to_snake("already_snake"), "already_snake");',
    ),
)

problem(
    """
    Interleave the characters of two strings, taking one from each in turn and
    starting with the first string. When one string runs out, append the rest
    of the other one.
    interleave_strings("abc", "12345") == "a1b2c345"
    """,
    "fn interleave_strings(a: &str, b: &str) -> String",
    """
    let mut left = a.chars();
    let mut right = b.chars();
    let mut out = String::with_capacity(a.len() + b.len());
    loop {
        match (left.next(), right.next()) {
            (None, None) => break,
            (x, y) => {
                out.extend(x);
                out.extend(y);
            }
        }
    }
    out
    """,
    main_asserts(
        'assert_eq!(interleave_strings("abc", "12345"), "a1b2c345");',
        'assert_eq!(interleave_strings("abcd", "12"), "a1b2cd");',
        'assert_eq!(interleave_strings("", "xyz"), "xyz");',
        'assert_eq!(interleave_strings("xyz", ""), "xyz");',
        'assert_eq!(interleave_strings("", ""), "");',
        'assert_eq!(interleave_strings("äö", "ü"), "äüö");',
    ),
)

problem(
    """
    Return the Hamming distance between two strings: the number of positions at
    which their characters differ. Characters (not bytes) are compared. When the
    strings do not have the same number of characters, return None.
    hamming_distance("karolin", "kathrin") == Some(3)
    """,
    "fn hamming_distance(a: &str, b: &str) -> Option<usize>",
    """
    if a.chars().count() != b.chars().count() {
        return None;
    }
    Some(a.chars().zip(b.chars()).filter(|(x, y)| x != y).count())
    """,
    main_asserts(
        'assert_eq!(hamming_distance("karolin", "kathrin"), Some(3));',
        'assert_eq!(hamming_distance("", ""), Some(0));',
        'assert_eq!(hamming_distance("abc", "abc"), Some(0));',
        'assert_eq!(hamming_distance("abc", "ab"), None);',
        'assert_eq!(hamming_distance("ñb", "nb"), Some(1));',
        'assert_eq!(hamming_distance("ñ", "nn"), None);',
        'assert_eq!(hamming_distance("1011101", "1001001"), Some(2));',
    ),
)

problem(
    """
    Return the longest prefix shared by all the words. An empty list has the
    empty prefix. The prefix must end on a character boundary.
    longest_common_prefix(&["interview", "internet", "interval"]) == "inter"
    """,
    "fn longest_common_prefix(words: &[&str]) -> String",
    """
    let first = match words.first() {
        Some(w) => *w,
        None => return String::new(),
    };
    let mut end = first.len();
    for word in &words[1..] {
        end = first[..end]
            .char_indices()
            .zip(word.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(word.len()), |((i, _), _)| i);
        while !first.is_char_boundary(end) {
            end -= 1;
        }
    }
    first[..end].to_string()
    """,
    main_asserts(
        'assert_eq!(longest_common_prefix(&["interview", "internet", "interval"]), "inter");',
        'assert_eq!(longest_common_prefix(&[]), "");',
        'assert_eq!(longest_common_prefix(&["alone"]), "alone");',
        'assert_eq!(longest_common_prefix(&["dog", "cat"]), "");',
        'assert_eq!(longest_common_prefix(&["prefix", "pre", "prefixes"]), "pre");',
        'assert_eq!(longest_common_prefix(&["été", "étage"]), "ét");',
        'assert_eq!(longest_common_prefix(&["same", "same"]), "same");',
    ),
)

problem(
    """
    Group words that are anagrams of each other (same letters, same counts,
    case-sensitive). Groups appear in the order of their first word in the input,
    and words inside a group keep their input order.
    group_anagrams(&["eat", "tea", "tan", "ate", "nat", "bat"])
        == [["eat", "tea", "ate"], ["tan", "nat"], ["bat"]]
    """,
    "fn group_anagrams(words: &[&str]) -> Vec<Vec<String>>",
    """
    let mut index: HashMap<Vec<char>, usize> = HashMap::new();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for word in words {
        let mut key: Vec<char> = word.chars().collect();
        key.sort_unstable();
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(word.to_string());
    }
    groups
    """,
    tests(
        'assert_eq!(group_anagrams(&["eat", "tea", "tan", "ate", "nat", "bat"]), vec![vec!["eat", "tea", "ate"], vec!["tan", "nat"], vec!["bat"]]);',
        'assert_eq!(group_anagrams(&[]), Vec::<Vec<String>>::new());',
        'assert_eq!(group_anagrams(&["", ""]), vec![vec!["", ""]]);',
        'assert_eq!(group_anagrams(&["ab", "Ba", "ba"]), vec![vec!["ab", "ba"], vec!["Ba"]]);',
        'assert_eq!(group_anagrams(&["aab", "abb"]), vec![vec!["aab"], vec!["abb"]]);',
    ),
    uses="use std::collections::HashMap;",
)

problem(
    """
    Greedily wrap text into lines of at most `width` characters. Words are
    separated by any whitespace; each line holds as many whole words as fit,
    joined by single spaces. A word longer than `width` gets a line of its own.
    wrap_words("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]
    """,
    "fn wrap_words(text: &str, width: usize) -> Vec<String>",
    """
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let needed = if current.is_empty() {
            word.chars().count()
        } else {
            current.chars().count() + 1 + word.chars().count()
        };
        if needed > width && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
    """,
    tests(
        'assert_eq!(wrap_words("the quick brown fox jumps", 10), vec!["the quick", "brown fox", "jumps"]);',
        'assert_eq!(wrap_words("", 5), Vec::<String>::new());',
        'assert_eq!(wrap_words("   ", 5), Vec::<String>::new());',
        'assert_eq!(wrap_words("extraordinary day", 5), vec!["extraordinary", "day"]);',
        'assert_eq!(wrap_words("a b c d", 3), vec!["a b", "c d"]);',
        'assert_eq!(wrap_words("one\\ntwo\\tthree", 100), vec!["one two three"]);',
        'assert_eq!(wrap_words("exactly ten", 11), vec!["exactly ten"]);',
    ),
)

problem(
    """
    Split one line of CSV into fields. Fields are separated by commas. A field
    may be wrapped in double quotes, in which case it may contain commas, and a
    doubled quote ("") inside it stands for one quote character. An empty line
    has one empty field.
    parse_csv_line("a,\\"b,c\\",d") == ["a", "b,c", "d"]
    """,
    "fn parse_csv_line(line: &str) -> Vec<String>",
    """
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() => in_quotes = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (other, _) => field.push(other),
        }
    }
    fields.push(field);
    fields
    """,
    tests(
        'assert_eq!(parse_csv_line("a,\\"b,c\\",d"), vec!["a", "b,c", "d"]);',
        'assert_eq!(parse_csv_line(""), vec![""]);',
        'assert_eq!(parse_csv_line(",,"), vec!["", "", ""]);',
        'assert_eq!(parse_csv_line("\\"say \\"\\"hi\\"\\"\\",2"), vec!["say \\"hi\\"", "2"]);',
        'assert_eq!(parse_csv_line("plain"), vec!["plain"]);',
        'assert_eq!(parse_csv_line("x,\\"\\""), vec!["x", ""]);',
    ),
)

# ---------------------------------------------------------------------------
# Parsing and Option/Result
# ---------------------------------------------------------------------------

problem(
    """
    Parse a duration such as "1h30m15s" into seconds. The string is a sequence
    of one or more <number><unit> parts with units 'h', 'm' and 's', each unit
    used at most once and in that order. Anything else (empty input, a missing
    number, an unknown or repeated unit, overflow) gives None.
    parse_duration("1h30m15s") == Some(5415)
    parse_duration("90s") == Some(90)
    """,
    "fn parse_duration(s: &str) -> Option<u64>",
    """
    if s.is_empty() {
        return None;
    }
    let units = [('h', 3600u64), ('m', 60), ('s', 1)];
    let mut next_unit = 0;
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if number.is_empty() {
            return None;
        }
        let pos = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
        let value: u64 = number.parse().ok()?;
        total = total.checked_add(value.checked_mul(units[pos].1)?)?;
        next_unit = pos + 1;
        number.clear();
    }
    if number.is_empty() {
        Some(total)
    } else {
        None
    }
    """,
    main_asserts(
        'assert_eq!(parse_duration("1h30m15s"), Some(5415));',
        'assert_eq!(parse_duration("90s"), Some(90));',
        'assert_eq!(parse_duration("2h"), Some(7200));',
        'assert_eq!(parse_duration("0s"), Some(0));',
        'assert_eq!(parse_duration(""), None);',
        'assert_eq!(parse_duration("15"), None);',
        'assert_eq!(parse_duration("m"), None);',
        'assert_eq!(parse_duration("5s1m"), None);',
        'assert_eq!(parse_duration("1m1m"), None);',
        'assert_eq!(parse_duration("3d"), None);',
        'assert_eq!(parse_duration("99999999999999999999s"), None);',
    ),
)

problem(
    """
    Parse settings written as "key=value" pairs separated by ';' into a map.
    Keys and values are trimmed; values are signed integers; an empty input or
    empty segments (e.g. a trailing ';') are allowed and skipped. On a segment
    without '=', with an empty key, or with a value that is not an integer,
    return Err with a message that contains the offending segment (trimmed).
    A later duplicate key overwrites an earlier one.
    parse_settings("width=80; height = 24") -> Ok({"width": 80, "height": 24})
    """,
    "fn parse_settings(input: &str) -> Result<HashMap<String, i64>, String>",
    """
    let mut map = HashMap::new();
    for segment in input.split(';') {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        let (key, value) = segment
            .split_once('=')
            .ok_or_else(|| format!("missing '=' in `{}`", segment))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("empty key in `{}`", segment));
        }
        let value: i64 = value
            .trim()
            .parse()
            .map_err(|_| format!("value is not an integer in `{}`", segment))?;
        map.insert(key.to_string(), value);
    }
    Ok(map)
    """,
    tests(
        'let m = parse_settings("width=80; height = 24").unwrap();',
        'assert_eq!(m.len(), 2);',
        'assert_eq!(m["width"], 80);',
        'assert_eq!(m["height"], 24);',
        'assert_eq!(parse_settings("").unwrap().len(), 0);',
        'assert_eq!(parse_settings("a=-5;;a=7;").unwrap()["a"], 7);',
        'assert!(parse_settings("a=1;oops").unwrap_err().contains("oops"));',
        'assert!(parse_settings("a=1; =3").unwrap_err().contains("=3"));',
        'assert!(parse_settings("n = ten").unwrap_err().contains("n = ten"));',
    ),
    uses="use std::collections::HashMap;",
)

problem(
    """
    Sum a comma-separated list of integers such as "4, -2, 10". Whitespace
    around each number is ignored and an empty (or all-whitespace) input sums
    to 0. If a token is not an integer, return Err with a message containing
    that token; if the sum overflows i64, return Err("overflow").
    sum_csv_numbers("4, -2, 10") == Ok(12)
    """,
    "fn sum_csv_numbers(s: &str) -> Result<i64, String>",
    """
    if s.trim().is_empty() {
        return Ok(0);
    }
    s.split(',').try_fold(0i64, |acc, token| {
        let token = token.trim();
        let n: i64 = token
            .parse()
            .map_err(|_| format!("not an integer: '{}'", token))?;
        acc.checked_add(n).ok_or_else(|| "overflow".to_string())
    })
    """,
    tests(
        'assert_eq!(sum_csv_numbers("4, -2, 10"), Ok(12));',
        'assert_eq!(sum_csv_numbers(""), Ok(0));',
        'assert_eq!(sum_csv_numbers("   "), Ok(0));',
        'assert_eq!(sum_csv_numbers("7"), Ok(7));',
        'assert!(sum_csv_numbers("1, two, 3").unwrap_err().contains("two"));',
        'assert!(sum_csv_numbers("1,,2").is_err());',
        'assert_eq!(sum_csv_numbers("9223372036854775807, 1"), Err("overflow".to_string()));',
        'assert_eq!(sum_csv_numbers("9223372036854775807, -1"), Ok(9223372036854775806));',
    ),
)

problem(
    """
    Check a string of brackets "()", "[]" and "{}" (other characters are
    ignored). Return None when every bracket is matched and properly nested;
    otherwise return the character index of the first problem: a closing bracket
    that does not match the innermost open one, or, if the text ends with
    brackets still open, the index of the earliest one that was never closed.
    first_bracket_error("a(b[c]d)e") == None
    first_bracket_error("(]") == Some(1)
    """,
    "fn first_bracket_error(s: &str) -> Option<usize>",
    """
    let mut stack: Vec<(usize, char)> = Vec::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '(' | '[' | '{' => stack.push((i, c)),
            ')' | ']' | '}' => {
                let expected = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    Some((_, open)) if open == expected => {}
                    _ => return Some(i),
                }
            }
            _ => {}
        }
    }
    stack.first().map(|&(i, _)| i)
    """,
    tests(
        'assert_eq!(first_bracket_error("a(b[c]d)e"), None);',
        'assert_eq!(first_bracket_error(""), None);',
        'assert_eq!(first_bracket_error("(]"), Some(1));',
        'assert_eq!(first_bracket_error(")"), Some(0));',
        'assert_eq!(first_bracket_error("{[()]}"), None);',
        'assert_eq!(first_bracket_error("x{(()"), Some(1));',
        'assert_eq!(first_bracket_error("ü(]"), Some(2));',
        'assert_eq!(first_bracket_error("([)]"), Some(2));',
    ),
)

problem(
    """
    Normalize a Unix-style path: collapse repeated slashes, drop "." segments
    and let ".." remove the previous segment. For an absolute path (starting
    with '/') a ".." at the root is dropped; for a relative path leading ".."
    segments are kept. An empty relative result is ".", an empty absolute one "/".
    normalize_path("/usr//local/./bin/../lib") == "/usr/local/lib"
    normalize_path("a/../../b") == "../b"
    """,
    "fn normalize_path(path: &str) -> String",
    """
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(p) if *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            name => parts.push(name),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{}", joined),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
    """,
    tests(
        'assert_eq!(normalize_path("/usr//local/./bin/../lib"), "/usr/local/lib");',
        'assert_eq!(normalize_path("a/../../b"), "../b");',
        'assert_eq!(normalize_path("/../.."), "/");',
        'assert_eq!(normalize_path(""), ".");',
        'assert_eq!(normalize_path("./"), ".");',
        'assert_eq!(normalize_path("x/y/"), "x/y");',
        'assert_eq!(normalize_path("../../z"), "../../z");',
        'assert_eq!(normalize_path("/a/b/../../c/."), "/c");',
    ),
)

problem(
    """
    Validate an ISBN-10 code. Hyphens are ignored; the remaining characters
    must be exactly nine digits followed by a digit or 'X' (meaning 10). The
    code is valid when the sum of each value times its weight (10 for the first
    character down to 1 for the last) is divisible by 11.
    is_valid_isbn10("0-306-40615-2") == true
    """,
    "fn is_valid_isbn10(code: &str) -> bool",
    """
    let chars: Vec<char> = code.chars().filter(|&c| c != '-').collect();
    if chars.len() != 10 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in chars.iter().enumerate() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'X' if i == 9 => 10,
            _ => return false,
        };
        sum += value * (10 - i as u32);
    }
    sum % 11 == 0
    """,
    tests(
        'assert!(is_valid_isbn10("0-306-40615-2"));',
        'assert!(is_valid_isbn10("080442957X"));',
        'assert!(!is_valid_isbn10("0-306-40615-3"));',
        'assert!(!is_valid_isbn10(""));',
        'assert!(!is_valid_isbn10("X804429570"));',
        'assert!(!is_valid_isbn10("030640615"));',
        'assert!(!is_valid_isbn10("0306406152-1"));',
        'assert!(!is_valid_isbn10("03064O6152"));',
    ),
)

problem(
    """
    Parse a version string "MAJOR.MINOR.PATCH" (three non-negative integers
    that fit in u32, no signs, no spaces, no empty parts) and return the three
    numbers, or None when the text is not of that form. A part may not have a
    leading zero unless it is exactly "0".
    parse_version("1.14.2") == Some((1, 14, 2))
    """,
    "fn parse_version(s: &str) -> Option<(u32, u32, u32)>",
    """
    let mut parts = s.split('.');
    let mut next = || -> Option<u32> {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if part.len() > 1 && part.starts_with('0') {
            return None;
        }
        part.parse().ok()
    };
    let version = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(version)
    """,
    tests(
        'assert_eq!(parse_version("1.14.2"), Some((1, 14, 2)));',
        'assert_eq!(parse_version("0.0.0"), Some((0, 0, 0)));',
        'assert_eq!(parse_version("1.2"), None);',
        'assert_eq!(parse_version("1.2.3.4"), None);',
        'assert_eq!(parse_version("1..3"), None);',
        'assert_eq!(parse_version("01.2.3"), None);',
        'assert_eq!(parse_version("1.+2.3"), None);',
        'assert_eq!(parse_version("4294967296.0.0"), None);',
        'assert_eq!(parse_version("4294967295.0.1"), Some((4294967295, 0, 1)));',
    ),
)

# ---------------------------------------------------------------------------
# Vectors, slices, iterators
# ---------------------------------------------------------------------------

problem(
    """
    Merge overlapping or touching closed intervals. Each interval is (start, end)
    with start <= end; the input is in any order. Return the merged intervals
    sorted by start. (1, 3) and (3, 5) touch and merge into (1, 5).
    merge_intervals(vec![(8, 10), (1, 3), (2, 6)]) == [(1, 6), (8, 10)]
    """,
    "fn merge_intervals(mut intervals: Vec<(i32, i32)>) -> Vec<(i32, i32)>",
    """
    intervals.sort_unstable();
    let mut merged: Vec<(i32, i32)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
    """,
    tests(
        'assert_eq!(merge_intervals(vec![(8, 10), (1, 3), (2, 6)]), vec![(1, 6), (8, 10)]);',
        'assert_eq!(merge_intervals(vec![]), vec![]);',
        'assert_eq!(merge_intervals(vec![(1, 3), (3, 5)]), vec![(1, 5)]);',
        'assert_eq!(merge_intervals(vec![(1, 10), (2, 3), (4, 5)]), vec![(1, 10)]);',
        'assert_eq!(merge_intervals(vec![(5, 5), (-3, -1)]), vec![(-3, -1), (5, 5)]);',
        'assert_eq!(merge_intervals(vec![(0, 1), (2, 3)]), vec![(0, 1), (2, 3)]);',
    ),
)

problem(
    """
    Transpose a rectangular matrix given as rows. A matrix with no rows (or
    with empty rows) transposes to an empty vector.
    transpose(vec![vec![1, 2, 3], vec![4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
    """,
    "fn transpose(matrix: Vec<Vec<i32>>) -> Vec<Vec<i32>>",
    """
    let columns = matrix.first().map_or(0, |row| row.len());
    (0..columns)
        .map(|c| matrix.iter().map(|row| row[c]).collect())
        .collect()
    """,
    tests(
        'assert_eq!(transpose(vec![vec![1, 2, 3], vec![4, 5, 6]]), vec![vec![1, 4], vec![2, 5], vec![3, 6]]);',
        'assert_eq!(transpose(vec![]), Vec::<Vec<i32>>::new());',
        'assert_eq!(transpose(vec![vec![], vec![]]), Vec::<Vec<i32>>::new());',
        'assert_eq!(transpose(vec![vec![7]]), vec![vec![7]]);',
        'assert_eq!(transpose(vec![vec![1], vec![2], vec![3]]), vec![vec![1, 2, 3]]);',
        'let m = vec![vec![1, 2], vec![3, 4]];',
        'assert_eq!(transpose(transpose(m.clone())), m);',
    ),
)

problem(
    """
    Return the elements of a rectangular matrix in clockwise spiral order,
    starting at the top-left corner and moving right.
    spiral_order(&[vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]) == [1, 2, 3, 6, 9, 8, 7, 4, 5]
    """,
    "fn spiral_order(matrix: &[Vec<i32>]) -> Vec<i32>",
    """
    let mut out = Vec::new();
    if matrix.is_empty() || matrix[0].is_empty() {
        return out;
    }
    let (mut top, mut left) = (0usize, 0usize);
    let (mut bottom, mut right) = (matrix.len(), matrix[0].len());
    while top < bottom && left < right {
        out.extend(&matrix[top][left..right]);
        top += 1;
        for row in &matrix[top..bottom] {
            out.push(row[right - 1]);
        }
        right -= 1;
        if top < bottom {
            out.extend(matrix[bottom - 1][left..right].iter().rev());
            bottom -= 1;
        }
        if left < right {
            for row in matrix[top..bottom].iter().rev() {
                out.push(row[left]);
            }
            left += 1;
        }
    }
    out
    """,
    tests(
        'assert_eq!(spiral_order(&[vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]), vec![1, 2, 3, 6, 9, 8, 7, 4, 5]);',
        'assert_eq!(spiral_order(&[]), vec![]);',
        'assert_eq!(spiral_order(&[vec![]]), vec![]);',
        'assert_eq!(spiral_order(&[vec![1, 2, 3, 4]]), vec![1, 2, 3, 4]);',
        'assert_eq!(spiral_order(&[vec![1], vec![2], vec![3]]), vec![1, 2, 3]);',
        'assert_eq!(spiral_order(&[vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10, 11, 12]]), vec![1, 2, 3, 4, 8, 12, 11, 10, 9, 5, 6, 7]);',
        'assert_eq!(spiral_order(&[vec![1, 2], vec![3, 4], vec![5, 6]]), vec![1, 2, 4, 6, 5, 3]);',
    ),
)

problem(
    """
    Return the length of the longest contiguous run of strictly increasing
    values in the slice. An empty slice has 0; a single value is a run of 1.
    longest_increasing_run(&[1, 2, 2, 3, 4, 5, 0]) == 4
    """,
    "fn longest_increasing_run(values: &[i32]) -> usize",
    """
    if values.is_empty() {
        return 0;
    }
    let mut best = 1;
    let mut current = 1;
    for pair in values.windows(2) {
        if pair[1] > pair[0] {
            current += 1;
            best = best.max(current);
        } else {
            current = 1;
        }
    }
    best
    """,
    tests(
        'assert_eq!(longest_increasing_run(&[1, 2, 2, 3, 4, 5, 0]), 4);',
        'assert_eq!(longest_increasing_run(&[]), 0);',
        'assert_eq!(longest_increasing_run(&[42]), 1);',
        'assert_eq!(longest_increasing_run(&[5, 4, 3]), 1);',
        'assert_eq!(longest_increasing_run(&[-3, -2, -1, 0]), 4);',
        'assert_eq!(longest_increasing_run(&[1, 2, 1, 2, 3]), 3);',
    ),
)

problem(
    """
    Summarize a sorted slice of distinct integers as ranges: consecutive values
    collapse into "start-end", a lone value stays as it is, and the parts are
    joined by commas.
    compress_ranges(&[0, 1, 2, 4, 6, 7]) == "0-2,4,6-7"
    """,
    "fn compress_ranges(values: &[i32]) -> String",
    """
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let start = values[i];
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] as i64 == values[j] as i64 + 1 {
            j += 1;
        }
        if j == i {
            parts.push(start.to_string());
        } else {
            parts.push(format!("{}-{}", start, values[j]));
        }
        i = j + 1;
    }
    parts.join(",")
    """,
    main_asserts(
        'assert_eq!(compress_ranges(&[0, 1, 2, 4, 6, 7]), "0-2,4,6-7");',
        'assert_eq!(compress_ranges(&[]), "");',
        'assert_eq!(compress_ranges(&[5]), "5");',
        'assert_eq!(compress_ranges(&[-3, -2, -1, 1]), "-3--1,1");',
        'assert_eq!(compress_ranges(&[1, 3, 5]), "1,3,5");',
        'assert_eq!(compress_ranges(&[2147483646, 2147483647]), "2147483646-2147483647");',
    ),
)

problem(
    """
    Return the second largest distinct value, or None when there are fewer than
    two distinct values.
    second_largest(&[4, 9, 9, 2]) == Some(4)
    second_largest(&[3, 3]) == None
    """,
    "fn second_largest(values: &[i64]) -> Option<i64>",
    """
    let mut first: Option<i64> = None;
    let mut second: Option<i64> = None;
    for &v in values {
        match first {
            Some(f) if v == f => {}
            Some(f) if v < f => {
                if second.map_or(true, |s| v > s) {
                    second = Some(v);
                }
            }
            _ => {
                second = first;
                first = Some(v);
            }
        }
    }
    second
    """,
    tests(
        'assert_eq!(second_largest(&[4, 9, 9, 2]), Some(4));',
        'assert_eq!(second_largest(&[3, 3]), None);',
        'assert_eq!(second_largest(&[]), None);',
        'assert_eq!(second_largest(&[1]), None);',
        'assert_eq!(second_largest(&[1, 2]), Some(1));',
        'assert_eq!(second_largest(&[i64::MIN, i64::MAX]), Some(i64::MIN));',
        'assert_eq!(second_largest(&[5, 1, 4, 4, 5]), Some(4));',
        'assert_eq!(second_largest(&[0, -1]), Some(-1));',
    ),
)

problem(
    """
    Split the slice into consecutive chunks of `size` elements (the last chunk
    may be shorter) and return the sum of each chunk, computed in i64 so it
    cannot overflow. A size of 0 returns an empty vector.
    chunk_sums(&[1, 2, 3, 4, 5], 2) == [3, 7, 5]
    """,
    "fn chunk_sums(values: &[i32], size: usize) -> Vec<i64>",
    """
    if size == 0 {
        return Vec::new();
    }
    values
        .chunks(size)
        .map(|chunk| chunk.iter().map(|&v| v as i64).sum())
        .collect()
    """,
    tests(
        'assert_eq!(chunk_sums(&[1, 2, 3, 4, 5], 2), vec![3, 7, 5]);',
        'assert_eq!(chunk_sums(&[1, 2, 3], 0), vec![]);',
        'assert_eq!(chunk_sums(&[], 3), vec![]);',
        'assert_eq!(chunk_sums(&[1, 2, 3], 5), vec![6]);',
        'assert_eq!(chunk_sums(&[i32::MAX, i32::MAX, -1], 2), vec![4294967294, -1]);',
        'assert_eq!(chunk_sums(&[4, -4, 9], 1), vec![4, -4, 9]);',
    ),
)

problem(
    """
    Collapse consecutive equal values into (value, count) pairs, in order.
    run_counts(&[1, 1, 2, 1, 1, 1]) == [(1, 2), (2, 1), (1, 3)]
    """,
    "fn run_counts(values: &[i32]) -> Vec<(i32, usize)>",
    """
    let mut runs: Vec<(i32, usize)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => runs.push((v, 1)),
        }
    }
    runs
    """,
    tests(
        'assert_eq!(run_counts(&[1, 1, 2, 1, 1, 1]), vec![(1, 2), (2, 1), (1, 3)]);',
        'assert_eq!(run_counts(&[]), vec![]);',
        'assert_eq!(run_counts(&[7]), vec![(7, 1)]);',
        'assert_eq!(run_counts(&[0, 0, 0, 0]), vec![(0, 4)]);',
        'assert_eq!(run_counts(&[1, 2, 3]), vec![(1, 1), (2, 1), (3, 1)]);',
    ),
)

problem(
    """
    Return the `k` most frequent values, most frequent first; values with the
    same frequency are ordered from smallest to largest. If there are fewer
    than `k` distinct values, return all of them.
    top_k_frequent(&[4, 1, 1, 2, 2, 3, 1], 2) == [1, 2]
    """,
    "fn top_k_frequent(values: &[i32], k: usize) -> Vec<i32>",
    """
    let mut counts: HashMap<i32, usize> = HashMap::new();
    for &v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut entries: Vec<(i32, usize)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    entries.into_iter().take(k).map(|(v, _)| v).collect()
    """,
    tests(
        'assert_eq!(top_k_frequent(&[4, 1, 1, 2, 2, 3, 1], 2), vec![1, 2]);',
        'assert_eq!(top_k_frequent(&[], 3), vec![]);',
        'assert_eq!(top_k_frequent(&[5, 6], 0), vec![]);',
        'assert_eq!(top_k_frequent(&[9, 8, 7], 2), vec![7, 8]);',
        'assert_eq!(top_k_frequent(&[3, 3, -1], 10), vec![3, -1]);',
    ),
    uses="use std::collections::HashMap;",
)

problem(
    """
    Rotate the vector in place by `k` positions to the left: the element at
    index k moves to index 0. `k` may be larger than the length.
    let mut v = vec![1, 2, 3, 4, 5]; rotate_left_by(&mut v, 2); // v == [3, 4, 5, 1, 2]
    """,
    "fn rotate_left_by(values: &mut Vec<i32>, k: usize)",
    """
    if values.is_empty() {
        return;
    }
    let k = k % values.len();
    values.reverse();
    let split = values.len() - k;
    values[..split].reverse();
    values[split..].reverse();
    """,
    tests(
        'let mut v = vec![1, 2, 3, 4, 5];',
        'rotate_left_by(&mut v, 2);',
        'assert_eq!(v, vec![3, 4, 5, 1, 2]);',
        'let mut e: Vec<i32> = vec![];',
        'rotate_left_by(&mut e, 3);',
        'assert!(e.is_empty());',
        'let mut w = vec![1, 2, 3];',
        'rotate_left_by(&mut w, 7);',
        'assert_eq!(w, vec![2, 3, 1]);',
        'let mut z = vec![1, 2, 3];',
        'rotate_left_by(&mut z, 3);',
        'assert_eq!(z, vec![1, 2, 3]);',
    ),
)

problem(
    """
    Rearrange the vector into the next lexicographically greater permutation and
    return true. If it is already the greatest permutation, rearrange it into the
    smallest one (sorted ascending) and return false.
    [1, 2, 3] -> [1, 3, 2] (true); [3, 2, 1] -> [1, 2, 3] (false)
    """,
    "fn next_permutation(values: &mut Vec<i32>) -> bool",
    """
    if values.len() < 2 {
        return false;
    }
    let mut i = values.len() - 1;
    while i > 0 && values[i - 1] >= values[i] {
        i -= 1;
    }
    if i == 0 {
        values.reverse();
        return false;
    }
    let mut j = values.len() - 1;
    while values[j] <= values[i - 1] {
        j -= 1;
    }
    values.swap(i - 1, j);
    values[i..].reverse();
    true
    """,
    tests(
        'let mut v = vec![1, 2, 3];',
        'assert!(next_permutation(&mut v));',
        'assert_eq!(v, vec![1, 3, 2]);',
        'let mut w = vec![3, 2, 1];',
        'assert!(!next_permutation(&mut w));',
        'assert_eq!(w, vec![1, 2, 3]);',
        'let mut d = vec![1, 1, 5];',
        'assert!(next_permutation(&mut d));',
        'assert_eq!(d, vec![1, 5, 1]);',
        'let mut one = vec![9];',
        'assert!(!next_permutation(&mut one));',
        'let mut all = vec![1, 2, 3, 4];',
        'let mut steps = 1;',
        'while next_permutation(&mut all) { steps += 1; }',
        'assert_eq!(steps, 24);',
    ),
)

problem(
    """
    Return the value that occurs in more than half of the positions, or None
    when no such value exists.
    majority_value(&[2, 7, 2, 2, 5]) == Some(2)
    majority_value(&[1, 2]) == None
    """,
    "fn majority_value(values: &[i32]) -> Option<i32>",
    """
    let mut candidate = None;
    let mut votes = 0usize;
    for &v in values {
        if votes == 0 {
            candidate = Some(v);
            votes = 1;
        } else if candidate == Some(v) {
            votes += 1;
        } else {
            votes -= 1;
        }
    }
    let c = candidate?;
    let occurrences = values.iter().filter(|&&v| v == c).count();
    if occurrences * 2 > values.len() {
        Some(c)
    } else {
        None
    }
    """,
    tests(
        'assert_eq!(majority_value(&[2, 7, 2, 2, 5]), Some(2));',
        'assert_eq!(majority_value(&[1, 2]), None);',
        'assert_eq!(majority_value(&[]), None);',
        'assert_eq!(majority_value(&[0]), Some(0));',
        'assert_eq!(majority_value(&[3, 3, 4, 4]), None);',
        'assert_eq!(majority_value(&[1, 9, 9, 1, 9]), Some(9));',
        'assert_eq!(majority_value(&[-4, -4, 1, 2, -4, 3, 3]), None);',
    ),
)

problem(
    """
    Find two different positions i < j whose values add up to `target` and
    return Some((i, j)) for the pair with the smallest j (and, for that j, the
    smallest i). Return None if no pair exists. Sums are computed without overflow.
    pair_with_sum(&[3, 8, 1, 5], 6) == Some((2, 3))
    """,
    "fn pair_with_sum(values: &[i32], target: i32) -> Option<(usize, usize)>",
    """
    let mut first_seen: HashMap<i64, usize> = HashMap::new();
    for (j, &v) in values.iter().enumerate() {
        let wanted = target as i64 - v as i64;
        if let Some(&i) = first_seen.get(&wanted) {
            return Some((i, j));
        }
        first_seen.entry(v as i64).or_insert(j);
    }
    None
    """,
    tests(
        'assert_eq!(pair_with_sum(&[3, 8, 1, 5], 6), Some((2, 3)));',
        'assert_eq!(pair_with_sum(&[], 0), None);',
        'assert_eq!(pair_with_sum(&[5], 10), None);',
        'assert_eq!(pair_with_sum(&[5, 5], 10), Some((0, 1)));',
        'assert_eq!(pair_with_sum(&[2, 2, 2], 4), Some((0, 1)));',
        'assert_eq!(pair_with_sum(&[1, 2, 3], 100), None);',
        'assert_eq!(pair_with_sum(&[i32::MAX, 1, i32::MIN], -1), Some((0, 2)));',
    ),
    uses="use std::collections::HashMap;",
)

# ---------------------------------------------------------------------------
# Integer math with overflow care
# ---------------------------------------------------------------------------

problem(
    """
    Return the sum of the squares of the values, or None if the result (or any
    intermediate square or sum) does not fit in an i32.
    checked_sum_of_squares(&[1, -2, 3]) == Some(14)
    checked_sum_of_squares(&[50000]) == None
    """,
    "fn checked_sum_of_squares(values: &[i32]) -> Option<i32>",
    """
    values
        .iter()
        .try_fold(0i32, |acc, &v| acc.checked_add(v.checked_mul(v)?))
    """,
    tests(
        'assert_eq!(checked_sum_of_squares(&[1, -2, 3]), Some(14));',
        'assert_eq!(checked_sum_of_squares(&[]), Some(0));',
        'assert_eq!(checked_sum_of_squares(&[50000]), None);',
        'assert_eq!(checked_sum_of_squares(&[46340]), Some(2147395600));',
        'assert_eq!(checked_sum_of_squares(&[46340, 300]), None);',
        'assert_eq!(checked_sum_of_squares(&[i32::MIN]), None);',
        'assert_eq!(checked_sum_of_squares(&[0, 0, 7]), Some(49));',
    ),
)

problem(
    """
    Repeatedly sum the decimal digits of n until a single digit remains.
    digital_root(9875) == 2   (9+8+7+5 = 29, 2+9 = 11, 1+1 = 2)
    """,
    "fn digital_root(n: u64) -> u64",
    """
    let mut n = n;
    while n >= 10 {
        let mut sum = 0;
        while n > 0 {
            sum += n % 10;
            n /= 10;
        }
        n = sum;
    }
    n
    """,
    main_asserts(
        'assert_eq!(digital_root(9875), 2);',
        'assert_eq!(digital_root(0), 0);',
        'assert_eq!(digital_root(7), 7);',
        'assert_eq!(digital_root(10), 1);',
        'assert_eq!(digital_root(99999999), 9);',
        'assert_eq!(digital_root(u64::MAX), 6);',
    ),
)

problem(
    """
    Return the length of the longest run of zero bits in the binary form of n
    that has a one bit on both sides. Zeros at the end (low bits) do not count.
    binary_gap(0b1001000) == 2
    binary_gap(0b10100) == 1
    """,
    "fn binary_gap(n: u32) -> u32",
    """
    if n == 0 {
        return 0;
    }
    let mut n = n >> n.trailing_zeros();
    let mut best = 0;
    let mut current = 0;
    while n > 0 {
        if n & 1 == 1 {
            best = best.max(current);
            current = 0;
        } else {
            current += 1;
        }
        n >>= 1;
    }
    best
    """,
    main_asserts(
        'assert_eq!(binary_gap(0b1001000), 2);',
        'assert_eq!(binary_gap(0b10100), 1);',
        'assert_eq!(binary_gap(0), 0);',
        'assert_eq!(binary_gap(1), 0);',
        'assert_eq!(binary_gap(0b1111), 0);',
        'assert_eq!(binary_gap(0x8000_0001), 30);',
        'assert_eq!(binary_gap(0b100000), 0);',
    ),
)

problem(
    """
    Count the trailing zero digits of n! (n factorial) in base 10 without
    computing the factorial.
    factorial_trailing_zeros(25) == 6
    """,
    "fn factorial_trailing_zeros(n: u64) -> u64",
    """
    let mut count = 0;
    let mut n = n;
    while n >= 5 {
        n /= 5;
        count += n;
    }
    count
    """,
    tests(
        'assert_eq!(factorial_trailing_zeros(25), 6);',
        'assert_eq!(factorial_trailing_zeros(0), 0);',
        'assert_eq!(factorial_trailing_zeros(4), 0);',
        'assert_eq!(factorial_trailing_zeros(5), 1);',
        'assert_eq!(factorial_trailing_zeros(100), 24);',
        'assert_eq!(factorial_trailing_zeros(1000), 249);',
        'assert_eq!(factorial_trailing_zeros(u64::MAX), 4611686018427387890);',
    ),
)

problem(
    """
    Return row `n` (0-based) of Pascal's triangle, or None if some entry of that
    row does not fit in a u64.
    pascal_row(4) == Some(vec![1, 4, 6, 4, 1])
    """,
    "fn pascal_row(n: usize) -> Option<Vec<u64>>",
    """
    let mut row: Vec<u64> = vec![1];
    for _ in 0..n {
        let mut next = Vec::with_capacity(row.len() + 1);
        next.push(1);
        for pair in row.windows(2) {
            next.push(pair[0].checked_add(pair[1])?);
        }
        next.push(1);
        row = next;
    }
    Some(row)
    """,
    tests(
        'assert_eq!(pascal_row(4), Some(vec![1, 4, 6, 4, 1]));',
        'assert_eq!(pascal_row(0), Some(vec![1]));',
        'assert_eq!(pascal_row(1), Some(vec![1, 1]));',
        'assert_eq!(pascal_row(10).unwrap()[5], 252);',
        'assert_eq!(pascal_row(67).unwrap()[33], 14226520737620288370);',
        'assert_eq!(pascal_row(68), None);',
    ),
)

problem(
    """
    Return the mean of the values rounded down (towards negative infinity),
    or None for an empty slice. The sum may exceed the i32 range.
    mean_floor(&[1, 2, 4]) == Some(2)
    mean_floor(&[-1, -2]) == Some(-2)
    """,
    "fn mean_floor(values: &[i32]) -> Option<i32>",
    """
    if values.is_empty() {
        return None;
    }
    let sum: i64 = values.iter().map(|&v| v as i64).sum();
    Some(sum.div_euclid(values.len() as i64) as i32)
    """,
    tests(
        'assert_eq!(mean_floor(&[1, 2, 4]), Some(2));',
        'assert_eq!(mean_floor(&[-1, -2]), Some(-2));',
        'assert_eq!(mean_floor(&[]), None);',
        'assert_eq!(mean_floor(&[5]), Some(5));',
        'assert_eq!(mean_floor(&[i32::MAX, i32::MAX]), Some(i32::MAX));',
        'assert_eq!(mean_floor(&[i32::MIN, i32::MIN, i32::MAX]), Some(-715827883));',
        'assert_eq!(mean_floor(&[-7, 0]), Some(-4));',
    ),
)

problem(
    """
    Return the dot product of two vectors, or None if they have different
    lengths or the result overflows i64 at any step.
    checked_dot(&[1, 2, 3], &[4, 5, 6]) == Some(32)
    """,
    "fn checked_dot(a: &[i64], b: &[i64]) -> Option<i64>",
    """
    if a.len() != b.len() {
        return None;
    }
    a.iter()
        .zip(b)
        .try_fold(0i64, |acc, (&x, &y)| acc.checked_add(x.checked_mul(y)?))
    """,
    tests(
        'assert_eq!(checked_dot(&[1, 2, 3], &[4, 5, 6]), Some(32));',
        'assert_eq!(checked_dot(&[], &[]), Some(0));',
        'assert_eq!(checked_dot(&[1], &[1, 2]), None);',
        'assert_eq!(checked_dot(&[-3, 3], &[2, 2]), Some(0));',
        'assert_eq!(checked_dot(&[i64::MAX], &[2]), None);',
        'assert_eq!(checked_dot(&[i64::MAX, 1], &[1, 1]), None);',
        'assert_eq!(checked_dot(&[i64::MAX, -1], &[1, 1]), Some(i64::MAX - 1));',
    ),
)

# ---------------------------------------------------------------------------
# Structs and enums passed in
# ---------------------------------------------------------------------------

problem(
    """
    An order line has a unit price in cents and a quantity. Return the total of
    the order in cents; a line whose `discount_percent` is above 0 is reduced by
    that percentage, rounding the line total down to whole cents. Percentages
    above 100 count as 100. The total must not overflow for large orders.
    order_total(&[Line { price_cents: 250, quantity: 4, discount_percent: 10 }]) == 900
    """,
    "fn order_total(lines: &[Line]) -> u64",
    """
    lines
        .iter()
        .map(|line| {
            let gross = line.price_cents as u128 * line.quantity as u128;
            let keep = 100 - line.discount_percent.min(100) as u128;
            (gross * keep / 100) as u64
        })
        .sum()
    """,
    tests(
        'let line = |p, q, d| Line { price_cents: p, quantity: q, discount_percent: d };',
        'assert_eq!(order_total(&[line(250, 4, 10)]), 900);',
        'assert_eq!(order_total(&[]), 0);',
        'assert_eq!(order_total(&[line(199, 3, 0), line(1, 1, 0)]), 598);',
        'assert_eq!(order_total(&[line(333, 1, 50)]), 166);',
        'assert_eq!(order_total(&[line(1000, 2, 150)]), 0);',
        'assert_eq!(order_total(&[line(u32::MAX, u32::MAX, 0)]), 18446744065119617025);',
    ),
    types="""
    struct Line {
        price_cents: u32,
        quantity: u32,
        discount_percent: u8,
    }
    """,
)

problem(
    """
    Apply bank transactions in order to a starting balance. A withdrawal larger
    than the current balance is refused: return Err with the index of the first
    refused transaction. Otherwise return Ok with the final balance. Deposits
    that would overflow u64 are also refused the same way.
    apply_transactions(10, &[Tx::Deposit(5), Tx::Withdraw(12)]) == Ok(3)
    """,
    "fn apply_transactions(start: u64, txs: &[Tx]) -> Result<u64, usize>",
    """
    let mut balance = start;
    for (i, tx) in txs.iter().enumerate() {
        balance = match *tx {
            Tx::Deposit(amount) => balance.checked_add(amount),
            Tx::Withdraw(amount) => balance.checked_sub(amount),
        }
        .ok_or(i)?;
    }
    Ok(balance)
    """,
    tests(
        'assert_eq!(apply_transactions(10, &[Tx::Deposit(5), Tx::Withdraw(12)]), Ok(3));',
        'assert_eq!(apply_transactions(0, &[]), Ok(0));',
        'assert_eq!(apply_transactions(7, &[]), Ok(7));',
        'assert_eq!(apply_transactions(5, &[Tx::Withdraw(5), Tx::Withdraw(1)]), Err(1));',
        'assert_eq!(apply_transactions(1, &[Tx::Withdraw(2), Tx::Deposit(10)]), Err(0));',
        'assert_eq!(apply_transactions(u64::MAX, &[Tx::Withdraw(1), Tx::Deposit(2)]), Err(1));',
        'assert_eq!(apply_transactions(3, &[Tx::Deposit(4), Tx::Withdraw(7), Tx::Deposit(1)]), Ok(1));',
    ),
    types="""
    enum Tx {
        Deposit(u64),
        Withdraw(u64),
    }
    """,
)

problem(
    """
    Return the index of the point closest to the origin by Euclidean distance,
    or None for an empty slice. On a tie the smaller index wins. Coordinates can
    be anywhere in the i32 range, so compute squared distances without overflow.
    closest_to_origin(&[Point { x: 3, y: 4 }, Point { x: -1, y: 1 }]) == Some(1)
    """,
    "fn closest_to_origin(points: &[Point]) -> Option<usize>",
    """
    let distance = |p: &Point| {
        let (x, y) = (p.x as i64, p.y as i64);
        (x * x) as u128 + (y * y) as u128
    };
    let mut best: Option<(usize, u128)> = None;
    for (i, p) in points.iter().enumerate() {
        let d = distance(p);
        if best.map_or(true, |(_, b)| d < b) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
    """,
    tests(
        'let p = |x, y| Point { x, y };',
        'assert_eq!(closest_to_origin(&[p(3, 4), p(-1, 1)]), Some(1));',
        'assert_eq!(closest_to_origin(&[]), None);',
        'assert_eq!(closest_to_origin(&[p(2, 2)]), Some(0));',
        'assert_eq!(closest_to_origin(&[p(5, 0), p(0, -5), p(3, 4)]), Some(0));',
        'assert_eq!(closest_to_origin(&[p(i32::MIN, i32::MIN), p(i32::MAX, i32::MAX)]), Some(1));',
        'assert_eq!(closest_to_origin(&[p(10, 10), p(1, 7), p(7, 1), p(0, 0)]), Some(3));',
    ),
    types="""
    struct Point {
        x: i32,
        y: i32,
    }
    """,
)

problem(
    """
    Given student grades, return for each course the names of the students who
    scored at least `threshold` in it, as a map from course to names sorted
    alphabetically. Courses where nobody reached the threshold are left out.
    """,
    "fn passing_by_course(grades: &[Grade], threshold: u32) -> BTreeMap<String, Vec<String>>",
    """
    let mut by_course: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in grades.iter().filter(|g| g.score >= threshold) {
        by_course
            .entry(g.course.clone())
            .or_default()
            .push(g.student.clone());
    }
    for names in by_course.values_mut() {
        names.sort();
    }
    by_course
    """,
    tests(
        'let g = |s: &str, c: &str, score| Grade { student: s.to_string(), course: c.to_string(), score };',
        'let grades = vec![g("zoe", "math", 90), g("adam", "math", 75), g("bob", "art", 40), g("amy", "art", 85), g("cy", "math", 60)];',
        'let result = passing_by_course(&grades, 70);',
        'assert_eq!(result.len(), 2);',
        'assert_eq!(result["math"], vec!["adam", "zoe"]);',
        'assert_eq!(result["art"], vec!["amy"]);',
        'assert!(passing_by_course(&grades, 100).is_empty());',
        'assert!(passing_by_course(&[], 0).is_empty());',
        'assert_eq!(passing_by_course(&grades, 0)["math"].len(), 3);',
    ),
    uses="use std::collections::BTreeMap;",
    types="""
    struct Grade {
        student: String,
        course: String,
        score: u32,
    }
    """,
)

problem(
    """
    Count the islands in a grid given as rows of text, where '#' is land and any
    other character is water. Land cells belong to the same island when they
    touch horizontally or vertically (not diagonally). Rows may differ in length.
    count_islands(&["##..", "#..#", "...#"]) == 2
    """,
    "fn count_islands(grid: &[&str]) -> usize",
    """
    let cells: Vec<Vec<bool>> = grid
        .iter()
        .map(|row| row.chars().map(|c| c == '#').collect())
        .collect();
    let mut seen: Vec<Vec<bool>> = cells.iter().map(|row| vec![false; row.len()]).collect();
    let mut islands = 0;
    for r in 0..cells.len() {
        for c in 0..cells[r].len() {
            if !cells[r][c] || seen[r][c] {
                continue;
            }
            islands += 1;
            let mut stack = vec![(r, c)];
            seen[r][c] = true;
            while let Some((y, x)) = stack.pop() {
                let mut neighbours = vec![(y + 1, x), (y, x + 1)];
                if y > 0 {
                    neighbours.push((y - 1, x));
                }
                if x > 0 {
                    neighbours.push((y, x - 1));
                }
                for (ny, nx) in neighbours {
                    let land = cells.get(ny).and_then(|row| row.get(nx)).copied().unwrap_or(false);
                    if land && !seen[ny][nx] {
                        seen[ny][nx] = true;
                        stack.push((ny, nx));
                    }
                }
            }
        }
    }
    islands
    """,
    tests(
        'assert_eq!(count_islands(&["##..", "#..#", "...#"]), 2);',
        'assert_eq!(count_islands(&[]), 0);',
        'assert_eq!(count_islands(&["....", ".."]), 0);',
        'assert_eq!(count_islands(&["#.#", ".#.", "#.#"]), 5);',
        'assert_eq!(count_islands(&["###", "#.#", "###"]), 1);',
        'assert_eq!(count_islands(&["#", "", "#"]), 2);',
        'assert_eq!(count_islands(&["##", "#"]), 1);',
    ),
)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = os.path.join(here, "smelt_rust_problems.jsonl")
    tmp_path = out_path + ".tmp"
    with open(tmp_path, "w", encoding="utf-8", newline="\n") as out:
        for i, p in enumerate(PROBLEMS):
            record = {"task_id": f"Smelt/{i}", **p}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp_path, out_path)
    print(f"wrote {len(PROBLEMS)} problems to {out_path}")


if __name__ == "__main__":
    main()
