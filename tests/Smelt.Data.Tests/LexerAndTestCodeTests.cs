using Smelt.Data.Rust;

namespace Smelt.Data.Tests;

public sealed class LexerTests
{
    private static List<(TokenKind Kind, string Text)> Sig(string s) =>
        RustLexer.Lex(s).Where(t => t.Kind != TokenKind.Whitespace).Select(t => (t.Kind, s.Substring(t.Start, t.Length))).ToList();

    [Fact]
    public void Every_character_belongs_to_exactly_one_token()
    {
        var src = "fn main() { let s = r#\"a \"b\" c\"#; /* x /* y */ z */ let c = '\\''; }\n// end";
        var tokens = RustLexer.Lex(src);
        var pos = 0;
        foreach (var t in tokens) { Assert.Equal(pos, t.Start); pos = t.End; }
        Assert.Equal(src.Length, pos);
    }

    [Fact]
    public void Raw_strings_with_hashes_hold_quotes_and_fake_attributes()
    {
        var toks = Sig("let s = r##\"#[cfg(test)] \"# still inside\"##; x");
        Assert.Contains((TokenKind.String, "r##\"#[cfg(test)] \"# still inside\"##"), toks);
        Assert.Equal((TokenKind.Ident, "x"), toks[^1]);
    }

    [Fact]
    public void Char_literals_are_told_apart_from_lifetimes()
    {
        var toks = Sig("fn f<'a>(x: &'a str) -> char { let q = '\\''; let u = '\\u{1F600}'; let c = 'a'; 'outer: loop { break 'outer; } b'x' }");
        Assert.Equal(["'a", "'a", "'outer", "'outer"], toks.Where(t => t.Kind == TokenKind.Lifetime).Select(t => t.Text));
        Assert.Equal(["'\\''", "'\\u{1F600}'", "'a'", "b'x'"], toks.Where(t => t.Kind == TokenKind.Char).Select(t => t.Text));
    }

    [Fact]
    public void Nested_block_comments_and_doc_comments()
    {
        var toks = Sig("/* a /* b */ still comment */ x /// doc\n//// not doc\n//! inner doc\n/** block doc */ /*! inner */ /**/ y");
        Assert.Equal(TokenKind.BlockComment, toks[0].Kind);
        Assert.Equal("/* a /* b */ still comment */", toks[0].Text);
        Assert.Equal((TokenKind.Ident, "x"), toks[1]);
        Assert.Equal([TokenKind.DocLineComment, TokenKind.LineComment, TokenKind.DocLineComment, TokenKind.DocBlockComment, TokenKind.DocBlockComment, TokenKind.BlockComment],
            toks.Skip(2).Take(6).Select(t => t.Kind));
    }

    [Fact]
    public void Byte_c_strings_raw_identifiers_and_numbers()
    {
        var toks = Sig("b\"by\\\"te\" c\"cstr\" br#\"raw\"# r#type 0x1F_u8 1.5e-3f64 0..10 x.0.1");
        Assert.Equal([(TokenKind.String, "b\"by\\\"te\""), (TokenKind.String, "c\"cstr\""), (TokenKind.String, "br#\"raw\"#"), (TokenKind.Ident, "r#type"),
            (TokenKind.Number, "0x1F_u8"), (TokenKind.Number, "1.5e-3f64"), (TokenKind.Number, "0"), (TokenKind.Punct, "."), (TokenKind.Punct, "."), (TokenKind.Number, "10")],
            toks.Take(10));
    }

    [Fact]
    public void Unterminated_input_never_throws()
    {
        foreach (var s in new[] { "\"open", "r#\"open", "/* open /* nested", "'", "b'", "r#", "'\\u{", "#[cfg(test" })
            Assert.NotEmpty(RustLexer.Lex(s));
    }
}

public sealed class TestCodeTests
{
    [Fact]
    public void Strips_cfg_test_module_and_keeps_the_rest()
    {
        var src = """
            pub fn add(a: i32, b: i32) -> i32 { a + b }

            #[cfg(test)]
            mod tests {
                use super::*;
                #[test]
                fn adds() { assert_eq!(add(1, 2), 3); }
            }

            pub fn sub(a: i32, b: i32) -> i32 { a - b }
            """;
        var a = TestCode.Analyse(src);
        Assert.Single(a.TestItems);
        var stripped = TestCode.Strip(src, a);
        Assert.DoesNotContain("mod tests", stripped);
        Assert.DoesNotContain("assert_eq", stripped);
        Assert.Contains("pub fn add", stripped);
        Assert.Contains("pub fn sub", stripped);
    }

    [Fact]
    public void Attribute_text_inside_strings_and_comments_is_not_code()
    {
        var src = """
            // #[cfg(test)] mod fake { }
            /* #[test] fn nope() {} /* nested */ */
            const S: &str = "#[cfg(test)] mod x {}";
            const R: &str = r#"#[test] fn y() {}"#;
            pub fn real() {}
            """;
        Assert.False(TestCode.Analyse(src).HasTestCode);
    }

    [Fact]
    public void Braces_in_strings_chars_and_comments_do_not_end_the_test_module_early()
    {
        var src = """
            #[cfg(test)]
            mod tests {
                const A: char = '}';
                const B: &str = "}}}";
                // }
                /* } */
                fn life<'a>(x: &'a str) -> &'a str { x }
                #[test] fn t() { let _ = r#"}"#; }
            }
            pub fn kept() {}
            """;
        var stripped = TestCode.Strip(src, TestCode.Analyse(src));
        Assert.Equal("pub fn kept() {}", stripped.Trim());
    }

    [Fact]
    public void Recognises_test_attribute_forms_and_predicates()
    {
        string[] testOnly =
        [
            "#[test]\nfn a() {}", "#[tokio::test]\nasync fn a() {}", "#[test_case(1, 2)]\nfn a(x: u8, y: u8) {}", "#[bench]\nfn b(b: &mut Bencher) {}",
            "#[cfg(all(test, unix))]\nmod m {}", "#[cfg(test)]\nuse super::*;", "#[cfg(test)]\nmod tests;", "#[should_panic]\n#[test]\nfn p() {}",
            "#[cfg(any(test))]\nfn h() {}",
        ];
        foreach (var s in testOnly) Assert.True(TestCode.Analyse(s).TestItems.Count == 1, s);
        string[] notTest = ["#[cfg(not(test))]\nfn a() {}", "#[cfg(any(test, feature = \"x\"))]\nfn a() {}", "#[cfg_attr(test, derive(Debug))]\nstruct S;",
            "#[cfg(feature = \"test\")]\nfn a() {}", "#[derive(Debug)]\nstruct Test;", "#[testing]\nfn t() {}"];
        foreach (var s in notTest) Assert.False(TestCode.Analyse(s).HasTestCode, s);
    }

    [Fact]
    public void Inner_cfg_test_marks_the_whole_file()
    {
        Assert.True(TestCode.Analyse("//! helpers\n#![cfg(test)]\nuse super::*;\nfn helper() {}").FileIsTestOnly);
    }

    [Fact]
    public void Inner_cfg_test_inside_a_module_marks_only_that_module()
    {
        var src = "pub fn keep() {}\n\n#[allow(dead_code)]\nmod helpers {\n    #![cfg(test)]\n    fn h() { let _ = '}'; }\n}\n\npub fn also_kept() {}\n";
        var a = TestCode.Analyse(src);
        Assert.False(a.FileIsTestOnly);
        var stripped = TestCode.Strip(src, a);
        Assert.DoesNotContain("helpers", stripped);
        Assert.DoesNotContain("allow(dead_code)", stripped);
        Assert.Contains("pub fn keep() {}", stripped);
        Assert.Contains("pub fn also_kept() {}", stripped);
    }

    [Fact]
    public void A_test_only_struct_field_is_removed_alone()
    {
        var src = "struct S {\n    a: u8,\n    #[cfg(test)]\n    probe: u8,\n    b: u8,\n}\n";
        var stripped = TestCode.Strip(src, TestCode.Analyse(src));
        Assert.DoesNotContain("probe", stripped);
        Assert.Contains("b: u8", stripped);
        Assert.Contains("a: u8", stripped);
    }

    [SharedDataFact("humaneval-rust/humaneval_x_rust.jsonl")]
    public void Finds_the_test_module_of_every_HumanEval_X_task()
    {
        int found = 0, commentedOut = 0;
        foreach (var line in Smelt.Core.Jsonl.Read(TestEnvironment.SharedFile("humaneval-rust/humaneval_x_rust.jsonl")))
        {
            var o = line.Value!.Value;
            var code = o.GetProperty("declaration").GetString() + o.GetProperty("canonical_solution").GetString() + o.GetProperty("test").GetString();
            var a = TestCode.Analyse(code);
            if (o.GetProperty("test").GetString()!.TrimStart().StartsWith("/*", StringComparison.Ordinal))
            {
                // One task (Rust/32) ships its test module inside a block comment: there is no test code to find.
                Assert.False(a.HasTestCode, line.Where);
                commentedOut++;
                continue;
            }
            Assert.True(a.TestItems.Count == 1, line.Where);
            found++;
            var stripped = TestCode.Strip(code, a);
            Assert.DoesNotContain("#[test]", stripped);
            Assert.DoesNotContain("mod tests", stripped);
            Assert.Contains(o.GetProperty("canonical_solution").GetString()!.Trim()[..10], stripped);
        }
        Assert.Equal(164, found + commentedOut);
        Assert.True(found >= 160, $"found test modules in {found} tasks");
    }
}
