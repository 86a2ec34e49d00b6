using System.Text;
using Smelt.Core;

namespace Smelt.Core.Tests;

public class SafePathTests
{
    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    [InlineData("nul\0byte")]
    [InlineData("")]
    public void Combine_RejectsTraversal(string rel)
    {
        var root = Directory.CreateTempSubdirectory().FullName;
        Assert.Throws<SmeltException>(() => SafePath.Combine(root, rel));
    }

    [Fact]
    public void Combine_AcceptsNestedRelative()
    {
        var root = Directory.CreateTempSubdirectory().FullName;
        Assert.Equal(Path.Combine(root, "a", "b.txt"), SafePath.Combine(root, "a/b.txt"));
    }

    [Fact]
    public void FileComponent_IsSafeAndDistinct()
    {
        var a = SafePath.ToFileComponent("../../etc");
        var b = SafePath.ToFileComponent("__/__/etc");
        Assert.DoesNotContain("/", a);
        Assert.DoesNotContain("..", a);
        Assert.NotEqual(a, b);
        Assert.Matches("^[A-Za-z0-9_-]+$", SafePath.ToFileComponent("Rust/12 \u00e9\0"));
    }
}

public class JsonlTests
{
    [Fact]
    public void Read_ReportsBadLinesAndKeepsGoodOnes()
    {
        var bytes = new List<byte>();
        bytes.AddRange("{\"a\":1}\n"u8.ToArray());
        bytes.AddRange("not json\n"u8.ToArray());
        bytes.AddRange(new byte[] { (byte)'{', (byte)'"', 0xff, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)'\n' });
        bytes.AddRange("{\"n\":\"a\0b\"}\n".Select(c => (byte)c));
        bytes.AddRange("\n[1,2]\n{\"b\":2}"u8.ToArray());
        var lines = Jsonl.Read(new MemoryStream(bytes.ToArray()), "x.jsonl").ToList();
        Assert.Equal(6, lines.Count);
        Assert.True(lines[0].IsValid);
        Assert.Contains("malformed JSON", lines[1].Error);
        Assert.Contains("UTF-8", lines[2].Error);
        Assert.Contains("NUL", lines[3].Error);
        Assert.Equal(6, lines[4].LineNumber);
        Assert.Contains("object", lines[4].Error);
        Assert.True(lines[5].IsValid);
        Assert.Equal("x.jsonl:7", lines[5].Where);
    }

    [Fact]
    public void Read_OversizedLineIsReportedNotBuffered()
    {
        var text = "{\"a\":\"" + new string('x', 5000) + "\"}\n{\"b\":1}\n";
        var lines = Jsonl.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "big.jsonl", maxLineBytes: 1000).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains("longer", lines[0].Error);
        Assert.True(lines[1].IsValid);
    }

    [Fact]
    public void Read_LinesSpanningReadChunksAndTrailingValues()
    {
        var big = new string('y', 200_000);
        var text = "{\"a\":\"" + big + "\"}\r\n{\"a\":1} {\"b\":2}\n{\"c\":3}";
        var lines = Jsonl.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "t.jsonl").ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(big, lines[0].Value!.Value.GetProperty("a").GetString());
        Assert.Contains("malformed JSON", lines[1].Error);
        Assert.Equal(3, lines[2].Value!.Value.GetProperty("c").GetInt32());
        Assert.Equal(3, lines[2].LineNumber);
    }
}

public class RedactorTests
{
    [Fact]
    public void Redact_MasksRegisteredSecretsHeadersAndHfTokens()
    {
        Redactor.Register("s3cr3t-value-xyz");
        var hf = "hf_" + new string('A', 34);
        var text = $"token s3cr3t-value-xyz; Authorization: Bearer abc.def.ghi; tok={hf}";
        var red = Redactor.Redact(text);
        Assert.DoesNotContain("s3cr3t-value-xyz", red);
        Assert.DoesNotContain("abc.def.ghi", red);
        Assert.DoesNotContain(hf, red);
        Assert.Contains(Redactor.Mask, red);
    }

    [Theory]
    [InlineData("HF_TOKEN", true)]
    [InlineData("AWS_SECRET_ACCESS_KEY", true)]
    [InlineData("OPENAI_API_KEY", true)]
    [InlineData("PATH", false)]
    [InlineData("LANG", false)]
    public void LooksSecretName(string name, bool expected) => Assert.Equal(expected, Redactor.LooksSecretName(name));
}
