using Smelt.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>
/// The one place that first touches libtorch. A load failure (most often the GLIBCXX_3.4.32 requirement of
/// libLibTorchSharp.so on Debian 12 / Ubuntu 22.04 when the build-time patch did not run) becomes a
/// <see cref="SmeltException"/> that says what happened and what to do, instead of a bare TypeInitializationException.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _ready;

    public static void EnsureLoaded()
    {
        if (_ready) return;
        lock (Gate)
        {
            if (_ready) return;
            PreferPassiveOpenMpWaiting();
            KeepTensorMemoryInTheHeap();
            try
            {
                InitializeDeviceType(DeviceType.CPU);
                using var probe = zeros(1);
                _ready = true;
            }
            catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
                                         || (ex is NotSupportedException && ex.Message.Contains("libtorch", StringComparison.OrdinalIgnoreCase)))
            {
                throw SmeltException.Infrastructure(Explain(ex) + LoaderDiagnosis(), ex);
            }
        }
    }

    /// <summary>
    /// libtorch's OpenMP threads spin while waiting for work by default. On a machine whose cores are shared (CI runners,
    /// several builds at once) a spinning thread holds a core the others need, and small decode steps become 10-50x slower
    /// (measured: benchmarks/model). Unless the user chose otherwise, ask OpenMP to sleep instead. This must reach the
    /// native environment before libgomp loads, which .NET's Environment.SetEnvironmentVariable does not do on Linux.
    /// </summary>
    private static void PreferPassiveOpenMpWaiting()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try { _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0); }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>
    /// glibc serves blocks above its mmap threshold (128 KiB at start, raised only as such blocks are freed) with fresh
    /// mmaps, unmaps them on free and trims the heap top when it is free, so a training step's activations, a few MiB
    /// each, came back as fresh pages every step: the kernel zeroing pages was the largest single item (13%) in a
    /// profile of the bf16 100M step here. Fixing the threshold at glibc's ceiling (32 MiB) and trimming only above
    /// 2 GiB free lets the heap reuse that memory: measured 833 → 978 tokens/s on that step (benchmarks/training), the
    /// same peak RSS. The cost is that memory freed late in a run stays with the process until it exits. Settings the
    /// user gives glibc (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_ or GLIBC_TUNABLES) win, and
    /// SMELT_MALLOC_TUNING=0 turns this off.
    /// </summary>
    private static void KeepTensorMemoryInTheHeap()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("SMELT_MALLOC_TUNING") == "0") return;
        string[] userSettings = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"];
        if (userSettings.Any(v => Environment.GetEnvironmentVariable(v) is not null)) return;
        const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
        try
        {
            _ = MallOpt(M_MMAP_THRESHOLD, 32 << 20);
            _ = MallOpt(M_TRIM_THRESHOLD, int.MaxValue);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { } // not glibc
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int param, int value);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>Builds the actionable message for a libtorch load failure (public for tests).</summary>
    public static string Explain(Exception ex)
    {
        var root = ex;
        while (root.InnerException is not null) root = root.InnerException;
        var lib = FindLibTorchSharp();
        var hint = lib is null
            ? "libLibTorchSharp.so was not found next to the application; rebuild with `dotnet build` so the TorchSharp natives are copied."
            : $"{lib} may still require GLIBCXX_3.4.32 (GCC 13's libstdc++), newer than this system's libstdc++. " +
              "The build marks that requirement weak (build/TorchSharpNativeFix.targets); rebuild with `dotnet build` " +
              $"(python3 needed), or patch the copy by hand: python3 build/elf_weaken_version.py '{lib}' GLIBCXX_3.4.32. " +
              "Check with: python3 build/elf_weaken_version.py --check <file> GLIBCXX_3.4.32. See docs/model.md.";
        return $"could not load libtorch through TorchSharp ({root.GetType().Name}: {root.Message}). {hint}";
    }

    /// <summary>Asks the dynamic loader directly, because TorchSharp's own message hides the real reason.</summary>
    private static string LoaderDiagnosis()
    {
        var lib = FindLibTorchSharp();
        if (lib is null) return "";
        try
        {
            System.Runtime.InteropServices.NativeLibrary.Free(System.Runtime.InteropServices.NativeLibrary.Load(lib));
            return "";
        }
        catch (Exception ex)
        {
            return $" The dynamic loader says: {ex.Message.Trim()}";
        }
    }

    public static string? FindLibTorchSharp()
    {
        foreach (var candidate in new[] { "libLibTorchSharp.so", Path.Combine("runtimes", "linux-x64", "native", "libLibTorchSharp.so") })
        {
            var full = Path.Combine(AppContext.BaseDirectory, candidate);
            if (File.Exists(full)) return full;
        }
        return null;
    }

    /// <summary>Whether this CPU multiplies bf16 natively (AMX-BF16 or AVX512-BF16), read from /proc/cpuinfo.</summary>
    public static bool CpuHasNativeBf16()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return false;
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
            var set = flags.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            return set.Contains("amx_bf16") || set.Contains("avx512_bf16");
        }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// <c>--dtype auto</c>: on CUDA, the checkpoint's dtype. On CPU, bfloat16 for models of 50M+ parameters when the CPU has
    /// native bf16 matmul (there benchmarks/model measured bf16 several times faster than f32); float16 checkpoints run as
    /// bfloat16 on CPU (CPU float16 matmul is slow); otherwise the checkpoint's dtype.
    /// </summary>
    public static ScalarType AutoDType(ModelConfig config, Device device)
    {
        var stored = LlamaForCausalLM.DTypeOf(config.TorchDtype);
        if (device.type == DeviceType.CUDA) return stored;
        if (stored == ScalarType.Float16) return ScalarType.BFloat16;
        if (stored == ScalarType.Float32 && config.ParameterCount() >= 50_000_000 && CpuHasNativeBf16()) return ScalarType.BFloat16;
        return stored;
    }

    /// <summary>Resolves <c>auto|cpu|cuda</c>: auto picks CUDA when a CUDA libtorch is loaded and a GPU is visible.</summary>
    public static Device ResolveDevice(string? name)
    {
        EnsureLoaded();
        switch ((name ?? "auto").Trim().ToLowerInvariant())
        {
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
            case "cpu":
                return CPU;
            case "cuda":
                if (!cuda.is_available())
                    throw SmeltException.BadInput("--device cuda: no CUDA device is usable (this build ships the CPU libtorch, libtorch-cpu-linux-x64); use --device cpu or auto");
                return CUDA;
            default:
                throw SmeltException.BadInput($"--device '{name}': expected auto, cpu or cuda");
        }
    }
}
