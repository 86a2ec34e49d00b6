using Smelt.Eval;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

/// <summary>Every shape a model produces, recognised on tokens (unit level: no compiler).</summary>
public sealed class CompletionShapeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Problem _p;

    public CompletionShapeTests() => _p = Fixtures.Problems(_dir, Fixtures.SumEvenX).InOrder[0];

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Problem_header_is_split_into_imports_and_signature()
    {
        Assert.Equal("sum_even", _p.EntryPoint);
        Assert.Equal(5, _p.Uses.Count);
        Assert.StartsWith("fn sum_even(v: Vec<i64>) -> i64{", _p.Signature);
        Assert.Empty(_p.Helpers);
        Assert.True(_p.HasTests);
        Assert.False(_p.TestIsMain);
    }

    [Theory]
    [InlineData("    v.iter().sum()\n}\n")]
    [InlineData("    v.iter().sum()\n")]
    [InlineData("    if v.is_empty() {\n        return 0;\n")] // truncated twice
    public void Body_continuations_are_closed_exactly_once(string completion)
    {
        var s = CompletionNormalizer.Normalize(_p, completion);
        Assert.Equal(CompletionShape.Body, s.Shape);
        var items = Smelt.Eval.Rust.RustItems.Split(s.Code)!;
        var fn = Assert.Single(items);
        Assert.Equal("sum_even", fn.Name);
        Assert.False(fn.Open);
    }

    [Fact]
    public void Whole_function_keeps_helpers_and_own_imports_and_drops_main_and_tests()
    {
        const string completion = """
            use std::collections::HashSet;
            fn is_even(x: i64) -> bool { x % 2 == 0 }
            fn sum_even(v: Vec<i64>) -> i64 { v.into_iter().filter(|&x| is_even(x)).sum() }
            fn main() { println!("{}", sum_even(vec![2])); }
            #[cfg(test)]
            mod tests { #[test] fn mine() { assert!(false); } }
            """;
        var s = CompletionNormalizer.Normalize(_p, completion);
        Assert.Equal(CompletionShape.WholeFunction, s.Shape);
        var names = Smelt.Eval.Rust.RustItems.Split(s.Code)!.Select(i => i.Name).ToList();
        Assert.Equal([null, "is_even", "sum_even"], names);
        Assert.DoesNotContain("fn main", s.Code);
        Assert.DoesNotContain("mine", s.Code);
    }

    [Fact]
    public void Fenced_markdown_picks_the_block_with_the_entry_function()
    {
        const string completion = "Here is how to call it:\n```rust\nlet x = sum_even(vec![1]);\n```\nAnd the code:\n```rust\nfn sum_even(v: Vec<i64>) -> i64 {\n    v.iter().sum()\n}\n```\nDone. {{ stray braces in prose }";
        var s = CompletionNormalizer.Normalize(_p, completion);
        Assert.True(s.Fenced);
        Assert.Equal(CompletionShape.WholeFunction, s.Shape);
        Assert.DoesNotContain("prose", s.Code);
        Assert.DoesNotContain("let x", s.Code);
    }

    [Fact]
    public void Unterminated_fence_and_other_languages()
    {
        var s = CompletionNormalizer.Normalize(_p, "```python\ndef sum_even(v): pass\n```\n```\nfn sum_even(v: Vec<i64>) -> i64 {\n    v.iter().sum()\n");
        Assert.True(s.Fenced);
        Assert.Equal(CompletionShape.WholeFunction, s.Shape);
        Assert.DoesNotContain("def ", s.Code);
        Assert.False(Smelt.Eval.Rust.RustItems.Split(s.Code)!.Single().Open);
    }

    [Fact]
    public void Problem_helpers_are_kept_unless_the_completion_redefines_them()
    {
        var line = Fixtures.Line(new Dictionary<string, string>
        {
            ["task_id"] = "H/1",
            ["prompt"] = "",
            ["declaration"] = "fn helper(x: i32) -> i32 { x + 1 }\nfn f(x: i32) -> i32 {\n",
            ["canonical_solution"] = "    helper(x)\n}\n",
            ["test"] = "#[test]\nfn t() { assert_eq!(f(1), 2); }\n",
            ["example_test"] = "",
        });
        var p = Fixtures.Problems(_dir, line).InOrder[0];
        Assert.Equal("helper", Assert.Single(p.Helpers).Name);
        var body = CompletionNormalizer.Normalize(p, "    helper(x)\n}\n");
        Assert.Contains("fn helper", body.Code);
        var whole = CompletionNormalizer.Normalize(p, "fn helper(x: i32) -> i32 { x + 1 }\nfn f(x: i32) -> i32 { helper(x) }\n");
        Assert.Single(Smelt.Eval.Rust.RustItems.Split(whole.Code)!, i => i.Name == "helper");
    }

    [Fact]
    public void Assembled_module_marks_the_solution_lines_and_wraps_main_tests()
    {
        var mainProblem = Fixtures.Problems(_dir, Fixtures.MainStyle).InOrder[0];
        Assert.True(mainProblem.TestIsMain);
        Assert.Equal("triple", mainProblem.EntryPoint);
        var m = ProgramAssembler.Module(mainProblem, CompletionNormalizer.Normalize(mainProblem, "    x * 3\n}\n"));
        var lines = m.Source.Split('\n');
        Assert.StartsWith("fn triple", lines[m.SolutionFirstLine - 1]);
        Assert.Equal("}", lines[m.SolutionLastLine - 1].Trim());
        Assert.Contains($"fn {ProgramAssembler.MainTestName}()", m.Source);

        var x = ProgramAssembler.Module(_p, CompletionNormalizer.Normalize(_p, "    0\n}\n"));
        Assert.Contains($"mod {ProgramAssembler.PreludeModule} {{", x.Source);
        Assert.Contains("pub use rand::Rng;", x.Source);
        Assert.StartsWith("fn sum_even", x.Source.Split('\n')[x.SolutionFirstLine - 1]);
    }
}
