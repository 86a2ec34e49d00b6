using System.Diagnostics;
using Smelt.Model;
using Smelt.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void Libtorch_loads_and_computes()
    {
        TorchRuntime.EnsureLoaded();
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = matmul(a, a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_has_the_weak_glibcxx_requirement()
    {
        var lib = TorchRuntime.FindLibTorchSharp();
        Assert.NotNull(lib);
        var (rc, output) = RunPatcher("--check", lib!, "GLIBCXX_3.4.32");
        Assert.True(rc == 0, output);
        Assert.Contains(": weak:", output);
    }

    [Fact]
    public void Patcher_is_idempotent_and_changes_exactly_one_byte()
    {
        var original = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
            ".nuget", "packages", "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(original)) original = TorchRuntime.FindLibTorchSharp()!;
        var dir = Directory.CreateTempSubdirectory("smelt-elf-");
        try
        {
            var copy = Path.Combine(dir.FullName, "lib.so");
            File.Copy(original, copy);
            var before = File.ReadAllBytes(copy);
            Assert.Equal(0, RunPatcher(copy, "GLIBCXX_3.4.32").rc);
            var once = File.ReadAllBytes(copy);
            Assert.Equal(0, RunPatcher(copy, "GLIBCXX_3.4.32").rc);
            var twice = File.ReadAllBytes(copy);
            Assert.Equal(once, twice);
            Assert.Equal(before.Length, once.Length);
            var diffs = Enumerable.Range(0, before.Length).Where(i => before[i] != once[i]).ToArray();
            // The original from NuGet differs in the flags byte; an already-patched copy does not differ at all.
            Assert.True(diffs.Length <= 1, $"{diffs.Length} bytes changed");
            if (diffs.Length == 1) Assert.Equal(before[diffs[0]] | 0x2, once[diffs[0]]);
            Assert.Equal(0, RunPatcher("--check", copy, "GLIBCXX_3.4.32").rc);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Patcher_rejects_a_file_that_is_not_elf()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "not an elf file");
            var (rc, output) = RunPatcher(file, "GLIBCXX_3.4.32");
            Assert.Equal(2, rc);
            Assert.Contains("not an ELF file", output);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Load_failure_message_says_what_to_do()
    {
        var message = TorchRuntime.Explain(new TypeInitializationException("TorchSharp.torch",
            new DllNotFoundException("libLibTorchSharp.so: version `GLIBCXX_3.4.32' not found")));
        Assert.Contains("GLIBCXX_3.4.32", message);
        Assert.Contains("elf_weaken_version.py", message);
        Assert.Contains("DllNotFoundException", message);
    }

    [Fact]
    public void Unknown_device_is_rejected_clearly()
    {
        var ex = Assert.Throws<Smelt.Core.SmeltException>(() => TorchRuntime.ResolveDevice("tpu"));
        Assert.Contains("auto, cpu or cuda", ex.Message);
        Assert.Equal(CPU.type, TorchRuntime.ResolveDevice("cpu").type);
    }

    private static (int rc, string output) RunPatcher(params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(TestEnvironment.RepoRoot, "build", "elf_weaken_version.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}

public sealed class AutoDTypeTests
{
    [Fact]
    public void Auto_dtype_prefers_bf16_on_cpu_only_where_it_pays()
    {
        TorchRuntime.EnsureLoaded();
        var big = ModelPresets.Get("100m").Config;
        var tiny = ModelPresets.Get("tiny").Config;
        Assert.Equal(TorchRuntime.CpuHasNativeBf16() ? ScalarType.BFloat16 : ScalarType.Float32, TorchRuntime.AutoDType(big, CPU));
        Assert.Equal(ScalarType.Float32, TorchRuntime.AutoDType(tiny, CPU));
        Assert.Equal(ScalarType.BFloat16, TorchRuntime.AutoDType(tiny with { TorchDtype = "float16" }, CPU));
        Assert.Equal(ScalarType.Float16, TorchRuntime.AutoDType(tiny with { TorchDtype = "float16" }, new Device(DeviceType.CUDA)));
        Assert.Equal(ScalarType.Float32, TorchRuntime.AutoDType(big, new Device(DeviceType.CUDA)));
    }
}
