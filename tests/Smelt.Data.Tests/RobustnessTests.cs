using Smelt.Data.Rust;
using Smelt.Data.Secrets;

namespace Smelt.Data.Tests;

public sealed class RobustnessTests
{
    private const string Alphabet = "abrc'\"#/*![](){}<>;:,.=\\ \n\tx0123456789_-+@rR#\"'";

    private static IEnumerable<string> RandomInputs(int count, int seed)
    {
        var rng = new Random(seed);
        for (var i = 0; i < count; i++)
            yield return new string(Enumerable.Range(0, rng.Next(0, 200)).Select(_ => Alphabet[rng.Next(Alphabet.Length)]).ToArray());
    }

    [Fact]
    public void Lexer_test_code_and_scanner_are_total_on_random_input()
    {
        var scanner = new SecretScanner();
        foreach (var s in RandomInputs(3000, 5))
        {
            var tokens = RustLexer.Lex(s);
            var pos = 0;
            foreach (var t in tokens) { Assert.Equal(pos, t.Start); Assert.True(t.Length > 0); pos = t.End; }
            Assert.Equal(s.Length, pos);
            var analysis = TestCode.Analyse(s);
            var stripped = TestCode.Strip(s, analysis);
            Assert.True(stripped.Length <= s.Length);
            foreach (var f in scanner.Scan(s)) Assert.InRange(f.End, 1, s.Length);
        }
    }

    [Fact]
    public void Completion_check_flags_secrets_and_verbatim_training_data()
    {
        var index = new VerbatimLeakIndex(30);
        var training = Code.Function(1) + Code.Function(2);
        index.Add(training);
        var check = new CompletionLeakCheck(new SecretScanner(), index);
        var clean = check.Check(Code.Function(99));
        Assert.False(clean.HasLeak);
        var secret = check.Check("let t = \"glpat-" + "FAKEa1B2c3D4e5F6g7H8\";");
        Assert.Equal([SecretKinds.GitLabToken], secret.SecretKinds);
        Assert.False(secret.HasVerbatimRun);
        var copied = check.Check("// here you go\n" + training);
        Assert.True(copied.HasVerbatimRun);
        Assert.False(copied.HasSecret);
        Assert.False(new CompletionLeakCheck(new SecretScanner()).Check(training).HasLeak);
    }
}
