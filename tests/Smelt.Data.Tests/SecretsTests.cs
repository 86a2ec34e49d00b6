using Smelt.Core;
using Smelt.Data.Secrets;
using Xunit.Abstractions;

namespace Smelt.Data.Tests;

public sealed class SecretsTests(ITestOutputHelper output)
{
    private static string CorpusPath => Path.Combine(TestEnvironment.RepoRoot, "tests", "data", "secrets", "corpus.jsonl.gz");
    private const string FakeHf = "hf_" + "FAKEq8Wn3Rt5Yu7Io9Pa1Sd3Fg5Hj7Kl9Zx";

    [Fact]
    public void Labelled_corpus_precision_and_recall()
    {
        var corpus = ScannerEvaluation.LoadCorpus(CorpusPath);
        Assert.True(corpus.Sum(c => c.Expected.Count) >= 60, "the corpus should plant at least 60 secrets");
        Assert.True(corpus.Count(c => c.Expected.Count == 0) >= 100, "the corpus should hold at least 100 look-alike records");
        var score = ScannerEvaluation.Evaluate(corpus, new SecretScanner());
        output.WriteLine($"precision {score.Precision:F3} recall {score.Recall:F3} (tp {score.TruePositives}, fp {score.FalsePositives}, fn {score.FalseNegatives})");
        foreach (var k in score.ByKind) output.WriteLine($"  {k.Kind}: tp {k.TruePositives} fp {k.FalsePositives} fn {k.FalseNegatives}");
        foreach (var m in score.Mistakes) output.WriteLine("  " + m);
        Assert.True(score.Precision >= 0.95, $"precision {score.Precision:F3}: {string.Join("; ", score.Mistakes)}");
        Assert.True(score.Recall >= 0.95, $"recall {score.Recall:F3}: {string.Join("; ", score.Mistakes)}");
        // Every kind the issue names is planted and found at least once.
        foreach (var kind in SecretKinds.All)
            Assert.True(score.ByKind.Any(k => k.Kind == kind && k.TruePositives > 0), $"no true positive for {kind}");
    }

    [Fact]
    public void The_scanner_can_miss_it_is_not_rigged()
    {
        // Sanity check that the evaluation can fail: a scanner with every kind switched off finds nothing, recall 0.
        var off = new ScannerOptions { Kinds = SecretKinds.All.ToDictionary(k => k, _ => new KindRule(SecretAction.Off)) };
        var score = ScannerEvaluation.Evaluate(ScannerEvaluation.LoadCorpus(CorpusPath), new SecretScanner(off));
        Assert.Equal(0, score.TruePositives);
        Assert.Equal(0.0, score.Recall);
    }

    [Fact]
    public void Entropy_is_Shannon_bits_per_character()
    {
        Assert.Equal(0.0, SecretScanner.Entropy("aaaaaaaa"));
        Assert.Equal(1.0, SecretScanner.Entropy("abababab"), 6);
        Assert.Equal(4.0, SecretScanner.Entropy("0123456789abcdef"), 6);
    }

    [Fact]
    public void Assigned_secrets_need_entropy_above_the_threshold()
    {
        const string text = "password = \"Qw9!xZ2#kL7@pR4m\"";
        Assert.Single(new SecretScanner().Scan(text));
        Assert.Empty(new SecretScanner(new ScannerOptions { EntropyThreshold = 4.5 }).Scan(text));
        Assert.Empty(new SecretScanner().Scan("password = \"aaaaaaaaab\""));
    }

    [Fact]
    public void Redaction_replaces_only_the_secret_and_counts_by_kind()
    {
        var scanner = new SecretScanner();
        var text = "let t = \"ghp_" + "FAKEaB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY\"; // owner jane.doe@fake-corp.net\nfn main() {}";
        var counts = new Dictionary<string, long>();
        var redacted = SecretsStage.Redact(text, scanner, counts);
        Assert.Equal("let t = \"<SECRET>\"; // owner <EMAIL>\nfn main() {}", redacted);
        Assert.Equal(1, counts[SecretKinds.GitHubToken]);
        Assert.Equal(1, counts[SecretKinds.Email]);
    }

    [Fact]
    public void Stage_drops_by_kind_redacts_others_and_drops_records_left_empty()
    {
        var stage = new SecretsStage(new SecretScanner());
        var report = new FilterReport();
        TrainingRecord Raw(string t) => new() { Id = "x", Source = "s", Kind = RecordKind.Raw, Text = t };

        var pem = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + string.Join("\n", Enumerable.Repeat("FAKEFAKEqZ3x9Lm2Vb7Np4Rt8Wc1Ke6Hs0Dj5Gy2Ua9Ti3Oe7Qw4Zr1Xp8Mn6Bv2Cl", 4)) + "\n-----END RSA PRIVATE KEY-----";
        Assert.Equal("secrets:private_key", stage.Apply(Raw($"const K: &str = \"{pem}\";"), report).DropReason);

        var kept = stage.Apply(Raw("fn f() {}\nconst T: &str = \"hf_" + "FAKEq8Wn3Rt5Yu7Io9Pa1Sd3Fg5Hj7Kl9Zx\";"), report);
        Assert.NotNull(kept.Record);
        Assert.Contains("<SECRET>", kept.Record!.Text);
        Assert.DoesNotContain("hf_FAKE", kept.Record.Text);

        Assert.Equal("secrets:empty_after_redaction", stage.Apply(Raw("  hf_" + "FAKEq8Wn3Rt5Yu7Io9Pa1Sd3Fg5Hj7Kl9Zx \n"), report).DropReason);
        Assert.Equal(1, report.Modified["secrets:redacted:huggingface_token"]);
        Assert.Equal(2, report.SecretFindings["huggingface_token"]);
        Assert.Equal(1, report.SecretFindings["private_key"]);
    }

    [Theory]
    [InlineData("52.14.201.77", true)]
    [InlineData("145.8.3.22", true)]
    [InlineData("127.0.0.1", false)]        // loopback
    [InlineData("0.0.0.0", false)]          // unspecified
    [InlineData("10.20.30.40", false)]      // RFC 1918
    [InlineData("172.20.1.5", false)]
    [InlineData("192.168.10.20", false)]
    [InlineData("100.72.1.9", false)]       // CGNAT
    [InlineData("169.254.10.1", false)]     // link-local
    [InlineData("192.0.2.33", false)]       // documentation (RFC 5737)
    [InlineData("198.51.100.33", false)]
    [InlineData("203.0.113.33", false)]
    [InlineData("198.18.5.5", false)]       // benchmarking
    [InlineData("239.1.2.3", false)]        // multicast
    [InlineData("8.8.8.8", false)]          // public resolver
    [InlineData("1.2.3.4", false)]          // placeholder
    [InlineData("256.1.2.3", false)]        // not an address
    [InlineData("52.014.201.77", false)]    // leading zero
    [InlineData("4.0.12.0", false)]         // network address / version
    public void Ip_address_rules(string ip, bool reported)
    {
        var found = new SecretScanner().Scan($"connect(\"{ip}:443\")").Any(f => f.Kind == SecretKinds.IpAddress);
        Assert.Equal(reported, found);
    }

    [Theory]
    [InlineData("ada@fake-corp.net", true)]
    [InlineData("first.last+tag@mail.fake-isp.co.uk", true)]
    [InlineData("user@example.com", false)]
    [InlineData("user@sub.example.org", false)]
    [InlineData("user@host.example", false)]
    [InlineData("ci@build.test", false)]
    [InlineData("x@name.invalid", false)]
    [InlineData("me@localhost", false)]
    [InlineData("git@github.com", false)]
    [InlineData("logo@2x.png", false)]
    public void Email_rules(string address, bool reported)
    {
        var found = new SecretScanner().Scan($"let to = \"{address}\";").Any(f => f.Kind == SecretKinds.Email);
        Assert.Equal(reported, found);
    }

    [Fact]
    public void Pem_blocks_terminated_escaped_truncated_and_placeholders()
    {
        var body = string.Join("\n", Enumerable.Range(0, 3).Select(i => $"FAKE{i}qZ3x9Lm2Vb7Np4Rt8Wc1Ke6Hs0Dj5Gy2Ua9Ti3Oe7Qw4Zr1Xp8Mn6Bv2ClAb"));
        var s = new SecretScanner();
        var full = $"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----";
        var f = Assert.Single(s.Scan($"x = \"{full}\";"));
        Assert.Equal((SecretKinds.PrivateKey, full.Length), (f.Kind, f.Length));
        Assert.Single(s.Scan(full.Replace("\n", "\\n")));                                           // JSON-escaped newlines
        Assert.Equal(SecretKinds.PrivateKey, Assert.Single(s.Scan($"-----BEGIN PRIVATE KEY-----\n{body}\n")).Kind); // cut off, no END
        Assert.Empty(s.Scan("-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----"));  // a placeholder in docs
        Assert.Empty(s.Scan($"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"));   // not private
        // Mismatched labels are not one block; the RSA BEGIN with a long body still counts as a cut-off key.
        Assert.Single(s.Scan($"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----"));
    }

    [Fact]
    public void Versions_and_oids_are_not_ip_addresses()
    {
        var s = new SecretScanner();
        Assert.Empty(s.Scan("version = \"52.14.201.77\""));
        Assert.Empty(s.Scan("let v = \"v52.14.201.77\";"));
        Assert.Empty(s.Scan("const OID: &str = \"1.3.6.1.4.1.52.14.201.77\";"));
        Assert.Empty(s.Scan("\"Pkg/52.14.201.77\": {}"));
        Assert.Single(s.Scan("curl http://52.14.201.77/health"));
    }

    [Fact]
    public void Report_action_counts_without_changing_the_record()
    {
        var options = new ScannerOptions { Kinds = new Dictionary<string, KindRule> { [SecretKinds.Email] = new(SecretAction.Report) } };
        var stage = new SecretsStage(new SecretScanner(options));
        var report = new FilterReport();
        var record = new TrainingRecord { Id = "x", Source = "s", Kind = RecordKind.Raw, Text = "// by jane.doe@fake-corp.net\nfn main() {}" };
        var outcome = stage.Apply(record, report);
        Assert.Same(record, outcome.Record);
        Assert.Equal(1, report.SecretFindings[SecretKinds.Email]);
        Assert.Empty(report.Modified);
    }

    [Fact]
    public void Chat_and_instruction_fields_are_all_scanned_and_redacted()
    {
        var stage = new SecretsStage(new SecretScanner());
        var chat = new TrainingRecord
        {
            Id = "c", Source = "s", Kind = RecordKind.Chat,
            Messages = [new ChatMessage("user", "my key is ghp_" + "FAKEaB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY, fix it"), new ChatMessage("assistant", "fn fixed() {}")],
        };
        var outcome = stage.Apply(chat, new FilterReport());
        Assert.Equal("my key is <SECRET>, fix it", outcome.Record!.Messages![0].Content);
        Assert.Equal("fn fixed() {}", outcome.Record.Messages[1].Content);
    }

    [Fact]
    public void Rule_file_sets_actions_allow_list_and_custom_rules()
    {
        var yaml = $$"""
            entropy_threshold: 3.2
            kinds:
              email: { action: redact, placeholder: "<MAIL>" }
              ip_address: off
            allow: ["{{FakeHf}}"]
            custom:
              - kind: corp_token
                pattern: "corp_[a-z0-9]{16}"
                action: drop
            """;
        var o = SecretRuleFile.Parse(yaml, "rules.yml");
        Assert.Equal(3.2, o.EntropyThreshold);
        Assert.Equal("<MAIL>", o.PlaceholderFor(SecretKinds.Email));
        Assert.Equal(SecretAction.Off, o.ActionFor(SecretKinds.IpAddress));
        Assert.Equal(SecretAction.Drop, o.ActionFor("corp_token"));
        var s = new SecretScanner(o);
        Assert.Empty(s.Scan("x = " + FakeHf + "; ip 52.14.201.77"));
        Assert.Equal("corp_token", Assert.Single(s.Scan("let k = \"corp_0123456789abcdef\";")).Kind);
        // JSON is read as YAML.
        Assert.Equal(SecretAction.Drop, SecretRuleFile.Parse("{\"kinds\": {\"jwt\": \"drop\"}}", "r.json").ActionFor(SecretKinds.Jwt));
    }

    [Theory]
    [InlineData("kinds:\n  email: redact\n  - ip_address\n", "rules.yml:3", "does not parse")]
    [InlineData("entropy_treshold: 3\n", "rules.yml:1", "did you mean 'entropy_threshold'")]
    [InlineData("kinds:\n  emial: drop\n", "rules.yml:2", "did you mean 'email'")]
    [InlineData("kinds:\n  email: delete\n", "rules.yml:2", "unknown action 'delete'")]
    [InlineData("custom:\n  - kind: x\n    pattern: \"([a-z\"\n", "rules.yml:3", "not a valid regular expression")]
    [InlineData("entropy_threshold: lots\n", "rules.yml:1", "must be a number")]
    [InlineData("{\"kinds\": {\"email\": \"drop\",}\n", "rules.json", "does not parse")]
    public void Rule_file_errors_name_the_file_and_line(string text, string where, string message)
    {
        var file = where.StartsWith("rules.json", StringComparison.Ordinal) ? "rules.json" : "rules.yml";
        var ex = Assert.Throws<SmeltException>(() => SecretRuleFile.Parse(text, file));
        Assert.StartsWith(where, ex.Message);
        Assert.Contains(message, ex.Message);
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
    }

    [Fact]
    public void Missing_rule_file_is_a_clear_error()
    {
        var ex = Assert.Throws<SmeltException>(() => SecretRuleFile.Load("/nonexistent/rules.yml"));
        Assert.Contains("/nonexistent/rules.yml", ex.Message);
    }

    [Fact]
    public void Previews_never_print_the_secret()
    {
        const string t = "ghp_" + "FAKEaB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY";
        var f = Assert.Single(new SecretScanner().Scan(t));
        Assert.DoesNotContain(t, f.Preview(t));
        Assert.True(f.Preview(t).Length < 20);
    }
}
