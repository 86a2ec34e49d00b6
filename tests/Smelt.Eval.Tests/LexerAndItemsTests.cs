using Smelt.Eval.Rust;

namespace Smelt.Eval.Tests;

public sealed class LexerAndItemsTests
{
    [Fact]
    public void Braces_inside_literals_and_comments_are_not_delimiters()
    {
        const string src = """
            fn a() -> &'static str { let c = '{'; let d = '\''; let s = "}{\"}"; let r = r#"}"#; /* } /* nested } */ */ // }
                "ok" }
            fn b<'a>(x: &'a str) -> &'a str { 'outer: loop { break 'outer; } x }
            """;
        var items = RustItems.Split(src)!;
        Assert.Equal(2, items.Count);
        Assert.Equal(["a", "b"], items.Select(i => i.Name));
        Assert.All(items, i => Assert.False(i.Open));
    }

    [Fact]
    public void Recognises_item_kinds_attributes_and_open_items()
    {
        const string src = """
            #![allow(dead_code)]
            use std::collections::HashMap;
            /// doc
            #[inline]
            pub(crate) const fn k() -> u32 { 3 }
            const N: usize = 3;
            struct P { x: i32 }
            #[cfg(test)]
            mod tests { #[test] fn t() {} }
            #[test]
            fn loose() {}
            fn main() { println!("{}", k()); }
            fn open(x: i32) -> i32 {
                if x > 0 {
            """;
        var items = RustItems.Split(src)!;
        Assert.Equal(ItemKind.InnerAttribute, items[0].Kind);
        Assert.Equal(ItemKind.Use, items[1].Kind);
        Assert.Equal((ItemKind.Fn, "k"), (items[2].Kind, items[2].Name));
        Assert.Equal("N", items[3].Name);
        Assert.Equal("P", items[4].Name);
        Assert.True(items[5].IsTestOnly);
        Assert.Equal(ItemKind.Mod, items[5].Kind);
        Assert.True(items[6].IsTestOnly);
        Assert.Equal("main", items[7].Name);
        var open = items[8];
        Assert.Equal(("open", true, 2), (open.Name, open.Open, open.MissingClosers));
    }

    [Fact]
    public void A_body_continuation_is_not_a_sequence_of_items() =>
        Assert.Null(RustItems.Split("    a + b\n}\n"));

    [Fact]
    public void Rewrites_only_two_argument_gen_range_calls_in_code()
    {
        const string test = """
            let a = rng.gen_range(0, 4);
            let b = rng.gen_range(b'a', b'z' + 1);
            let c = rng.gen_range(0..4);
            let s = "rng.gen_range(1, 2)"; // rng.gen_range(3, 4)
            let d = rand::Rng::gen_range(&mut rng, 0..3);
            """;
        var (text, n) = TestCompat.Rewrite(test);
        Assert.Equal(2, n);
        Assert.Contains("gen_range(0.. 4)", text);
        Assert.Contains("gen_range(b'a'.. b'z' + 1)", text);
        Assert.Contains("\"rng.gen_range(1, 2)\"", text);
        Assert.Contains("// rng.gen_range(3, 4)", text);
        Assert.Contains("gen_range(&mut rng, 0..3)", text);
    }

    [Fact]
    public void Commented_out_tests_are_not_tests()
    {
        Assert.False(TestCompat.DefinesTest("/*\n#[cfg(test)]\nmod tests { #[test] fn t() {} }\n*/"));
        Assert.True(TestCompat.DefinesTest("mod tests { #[test] fn t() {} }"));
    }
}
