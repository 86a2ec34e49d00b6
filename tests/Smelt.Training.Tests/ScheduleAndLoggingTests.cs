using System.Diagnostics;
using System.Text.Json;
using Smelt.TestSupport;
using Smelt.Training.Logging;
using Smelt.Training.Optim;

namespace Smelt.Training.Tests;

public sealed class ScheduleAndLoggingTests
{
    [Fact]
    public void Warmup_then_cosine_reaches_the_floor()
    {
        var s = new LrSchedule(1e-3, 10, 110, "cosine", 0.1);
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-3, s.At(9), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(1e-3 * (0.1 + 0.9 * 0.5), s.At(60), 12);
        Assert.Equal(1e-4, s.At(110), 12);
        for (var i = 10; i < 110; i++) Assert.True(s.At(i + 1) <= s.At(i));
    }

    [Fact]
    public void Linear_and_constant()
    {
        var lin = new LrSchedule(2.0, 0, 100, "linear", 0);
        Assert.Equal(2.0, lin.At(0), 12);
        Assert.Equal(1.0, lin.At(50), 12);
        Assert.Equal(0.0, lin.At(100), 12);
        var c = new LrSchedule(0.5, 4, 100, "constant", 0);
        Assert.Equal(0.25, c.At(1), 12);
        Assert.Equal(0.5, c.At(70), 12);
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void TensorBoard_events_parse_back_with_valid_crcs()
    {
        var dir = Directory.CreateTempSubdirectory("smelt-tb-").FullName;
        string path;
        using (var w = new TensorBoardWriter(dir))
        {
            path = w.Path;
            w.AddScalars(1, [("train/loss", 2.5f), ("train/lr", 1e-4f)]);
            w.AddScalars(2, [("train/loss", 2.25f)]);
        }
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));
        var events = TensorBoardReader.Read(path);
        Assert.Equal(3, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.True(events[0].WallTime > 1.6e9);
        Assert.Equal(1, events[1].Step);
        Assert.Equal([("train/loss", 2.5f), ("train/lr", 1e-4f)], events[1].Scalars);
        Assert.Equal(2, events[2].Step);

        // Known bytes for one scalar Event (wall_time=1.0, step=3, "a"=1.0) as protoc would encode them.
        var encoded = TensorBoardWriter.EncodeEvent(1.0, 3, null, [("a", 1.0f)]);
        Assert.Equal(Convert.FromHexString("09000000000000F03F10032A0A0A080A0161150000803F"), encoded);

        // A flipped bit anywhere is detected by the CRC check.
        var bytes = File.ReadAllBytes(path);
        bytes[^6] ^= 0x01;
        var corrupt = Path.Combine(dir, "corrupt");
        File.WriteAllBytes(corrupt, bytes);
        Assert.Throws<InvalidDataException>(() => TensorBoardReader.Read(corrupt));
    }

    /// <summary>Skips unless Debian's python3 with python3-protobuf (Google's protobuf runtime) is installed.</summary>
    private sealed class ProtobufFactAttribute : FactAttribute
    {
        public const string Python = "/usr/bin/python3";

        public ProtobufFactAttribute()
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(Python, ["-c", "import google.protobuf"]) { RedirectStandardError = true })!;
                p.WaitForExit();
                if (p.ExitCode != 0) Skip = $"{Python} cannot import google.protobuf: apt-get install python3-protobuf (scripts/setup.sh does) to run this test";
            }
            catch (System.ComponentModel.Win32Exception) { Skip = $"{Python} is not installed: apt-get install python3 python3-protobuf to run this test"; }
        }
    }

    [ProtobufFact]
    public void Google_protobuf_reads_our_event_files_under_tensorflow_event_schema()
    {
        // tests/interop/read_tfevents.py: Google's protobuf runtime, a separate CRC-32C, and a byte-exact re-encoding check.
        var dir = Directory.CreateTempSubdirectory("smelt-tb-interop-").FullName;
        string path;
        using (var w = new TensorBoardWriter(dir))
        {
            path = w.Path;
            w.AddScalars(1, [("train/loss", 2.5f), ("train/lr", 1e-4f)]);
            w.AddScalars(123_456_789_012, [("eval/pass@1", 0f), ("validation/loss", -3.75f), ("über/größe", float.MaxValue)]);
        }
        var script = Path.Combine(TestEnvironment.RepoRoot, "tests", "interop", "read_tfevents.py");
        using var p = Process.Start(new ProcessStartInfo(ProtobufFactAttribute.Python, [script, path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        var events = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var ours = TensorBoardReader.Read(path);
        Assert.Equal(3, events.Count);
        Assert.Equal("brain.Event:2", events[0].GetProperty("file_version").GetString());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ours[i].WallTime, events[i].GetProperty("wall_time").GetDouble());
            Assert.Equal(ours[i].Step, events[i].GetProperty("step").GetInt64());
            var scalars = events[i].GetProperty("scalars").EnumerateArray().Select(a => (a[0].GetString()!, (float)a[1].GetDouble())).ToList();
            Assert.Equal(ours[i].Scalars, scalars);
        }
        Assert.Equal(123_456_789_012, events[2].GetProperty("step").GetInt64());
        Assert.Equal(("über/größe", float.MaxValue), (events[2].GetProperty("scalars")[2][0].GetString()!, (float)events[2].GetProperty("scalars")[2][1].GetDouble()));

        // The checker is not a rubber stamp: a flipped payload bit fails its CRC check.
        var bytes = File.ReadAllBytes(path);
        bytes[^6] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        using var bad = Process.Start(new ProcessStartInfo(ProtobufFactAttribute.Python, [script, path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var badErr = bad.StandardError.ReadToEnd();
        bad.WaitForExit();
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("CRC mismatch", badErr);
    }

    [Fact]
    public void Metrics_log_drops_lines_past_the_resume_step()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("smelt-metrics-").FullName, "metrics.jsonl");
        using (var log = new MetricsLog(path, 0))
            for (var i = 1; i <= 5; i++) log.Write(new StepMetrics(i, "main", 3.0 - i * 0.1, 1e-4, 0.5, 100, i * 64, 50, i));
        using (var log = new MetricsLog(path, 3))
            log.Write(new StepMetrics(4, "main", 1.0, 1e-4, 0.5, 100, 256, 50, 4));
        var all = MetricsLog.ReadAll(path);
        Assert.Equal([1, 2, 3, 4], all.Select(m => m.Step));
        Assert.Equal(1.0, all[3].Loss);
        Assert.Contains("\"tokens_per_second\"", File.ReadAllText(path));
    }

    [Fact]
    public void Loss_plot_is_a_png()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("smelt-plot-").FullName, "loss.png");
        var metrics = Enumerable.Range(1, 30).Select(i => new StepMetrics(i, "main", 3.0 / i, 1e-4, 1, 1, i, 1, i, i % 10 == 0 ? 3.2 / i : null)).ToList();
        LossPlot.Save(metrics, path, "test");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, bytes[..4]);
    }
}
