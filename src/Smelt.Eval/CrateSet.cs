using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Sandbox;

namespace Smelt.Eval;

/// <summary>
/// The offline crate set: the crates named in a pin directory (<c>Cargo.toml</c> + <c>Cargo.lock</c>), built once with cargo
/// from a local directory source (Debian's <c>/usr/share/cargo/registry</c>) inside the sandbox, and cached under
/// <see cref="SmeltPaths.CacheRoot"/> keyed by the pin files and the compiler version.
/// </summary>
public sealed record CrateSet(string Directory, string DepsDirectory, IReadOnlyList<(string Name, string Rlib)> Externs, string Key)
{
    public const string DefaultRegistry = "/usr/share/cargo/registry";
    private const string ExternsFile = "externs.json";

    /// <summary>rustc arguments that make the crates available to a sample: <c>--extern</c> per crate and the dependency search path.</summary>
    public IEnumerable<string> RustcArguments()
    {
        foreach (var (name, rlib) in Externs) { yield return "--extern"; yield return $"{name}={rlib}"; }
        yield return "-L";
        yield return $"dependency={DepsDirectory}";
    }

    public static string DefaultPinDirectory() =>
        SmeltPaths.RepoRoot is { } root ? Path.Combine(root, "configs", "crates") : Path.Combine(AppContext.BaseDirectory, "crates");

    public static async Task<CrateSet> EnsureAsync(ISandbox sandbox, Toolchain toolchain, string pinDirectory, string registry,
        Action<string>? log, CancellationToken ct)
    {
        var manifest = Path.Combine(pinDirectory, "Cargo.toml");
        var lockFile = Path.Combine(pinDirectory, "Cargo.lock");
        if (!File.Exists(manifest)) throw SmeltException.BadInput($"{manifest}: crate-set manifest not found (pass --crates DIR, or --no-crates to evaluate without external crates)");
        if (!File.Exists(lockFile)) throw SmeltException.BadInput($"{lockFile}: crate-set lock file not found; generate it offline (see docs/eval.md, \"Adding crates\")");
        var manifestText = File.ReadAllText(manifest);
        var lockText = File.ReadAllText(lockFile);
        var names = DependencyNames(manifestText, manifest);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n--\n", manifestText, lockText, toolchain.RustcVersion, registry))))[..16];
        var dir = Path.Combine(SmeltPaths.CacheRoot, "crates", key);
        var cached = TryLoad(dir, key);
        if (cached is not null) return cached;

        if (!System.IO.Directory.Exists(registry))
            throw SmeltException.Infrastructure($"crate source directory {registry} does not exist: install the sources (apt-get install librust-rand-dev librust-regex-dev librust-md5-dev) or pass --crate-registry DIR");
        if (!File.Exists(toolchain.Cargo))
            throw SmeltException.Infrastructure($"{toolchain.Cargo} not found: the crate set is built with the toolchain's cargo");
        log?.Invoke($"building the offline crate set ({string.Join(", ", names)}) into {dir} (once per pin change)");

        using var wd = sandbox.CreateWorkDirectory("crates");
        File.WriteAllText(Path.Combine(wd.Path, "Cargo.toml"), manifestText);
        File.WriteAllText(Path.Combine(wd.Path, "Cargo.lock"), lockText);
        File.WriteAllText(Path.Combine(wd.Path, "lib.rs"), "// crate-set anchor\n");
        var cargoHome = Path.Combine(wd.Path, "cargo-home");
        System.IO.Directory.CreateDirectory(cargoHome);
        File.WriteAllText(Path.Combine(cargoHome, "config.toml"),
            $"[source.crates-io]\nreplace-with = \"smelt-offline\"\n\n[source.smelt-offline]\ndirectory = \"{registry}\"\n\n[net]\noffline = true\n");
        var result = await sandbox.RunAsync(new SandboxRequest
        {
            Command = [toolchain.Cargo, "build", "--release", "--offline", "--locked", "--message-format=json",
                "--manifest-path", Path.Combine(wd.Path, "Cargo.toml"), "--target-dir", Path.Combine(wd.Path, "target")],
            WorkDirectory = wd.Path,
            ReadOnlyPaths = [toolchain.Sysroot, registry],
            Environment = new Dictionary<string, string>
            {
                ["CARGO_HOME"] = cargoHome,
                ["RUSTC"] = toolchain.Rustc,
                ["CARGO_BUILD_JOBS"] = Math.Max(1, Environment.ProcessorCount).ToString(),
                ["PATH"] = Path.Combine(toolchain.Sysroot, "bin") + ":/usr/local/bin:/usr/bin:/bin",
            },
            Limits = new ResourceLimits
            {
                WallTime = TimeSpan.FromMinutes(15), CpuTime = TimeSpan.FromMinutes(30), MemoryBytes = 8L << 30,
                MaxProcesses = 512, MaxFileSizeBytes = 1L << 30, MaxOpenFiles = 4096, MaxOutputBytes = 16 << 20,
            },
        }, ct);
        if (result.InfrastructureError is not null)
            throw SmeltException.Infrastructure($"sandbox '{sandbox.Name}' failed while building the crate set: {result.InfrastructureError}");
        if (!result.Succeeded)
            throw SmeltException.Infrastructure(
                $"building the crate set failed (exit {result.ExitCode?.ToString() ?? "-"}{(result.TimedOut ? ", timed out" : "")}): {Toolchain.Tail(CargoErrors(result.Stdout, result.Stderr), 1500)}");

        var artifacts = ParseArtifacts(result.Stdout);
        var externs = new List<(string, string)>();
        foreach (var name in names)
        {
            if (!artifacts.TryGetValue(name, out var rlib))
                throw SmeltException.Infrastructure($"cargo built the crate set but reported no library for '{name}'");
            externs.Add((name, Path.GetFileName(rlib)));
        }
        // Stage into a temporary directory, then rename: concurrent runs never see a half-filled cache.
        var staging = dir + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var stagingDeps = Path.Combine(staging, "deps");
        System.IO.Directory.CreateDirectory(stagingDeps);
        foreach (var f in System.IO.Directory.EnumerateFiles(Path.Combine(wd.Path, "target", "release", "deps")))
            if (f.EndsWith(".rlib", StringComparison.Ordinal) || f.EndsWith(".rmeta", StringComparison.Ordinal) || f.EndsWith(".so", StringComparison.Ordinal))
                File.Copy(f, Path.Combine(stagingDeps, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(staging, ExternsFile), JsonSerializer.Serialize(new ExternsManifest(key, externs.Select(e => new ExternEntry(e.Item1, e.Item2)).ToList())));
        File.WriteAllText(Path.Combine(staging, "Cargo.toml"), manifestText);
        File.WriteAllText(Path.Combine(staging, "Cargo.lock"), lockText);
        try { System.IO.Directory.Move(staging, dir); }
        catch (IOException) when (System.IO.Directory.Exists(dir)) { System.IO.Directory.Delete(staging, true); }
        return TryLoad(dir, key) ?? throw SmeltException.Infrastructure($"crate-set cache {dir} is unreadable after building it");
    }

    private static CrateSet? TryLoad(string dir, string key)
    {
        var file = Path.Combine(dir, ExternsFile);
        if (!File.Exists(file)) return null;
        try
        {
            var m = JsonSerializer.Deserialize<ExternsManifest>(File.ReadAllText(file));
            if (m is null || m.Key != key) return null;
            var deps = Path.Combine(dir, "deps");
            var externs = m.Externs.Select(e => (e.Name, Path.Combine(deps, e.File))).ToList();
            return externs.All(e => File.Exists(e.Item2)) ? new CrateSet(dir, deps, externs, key) : null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary>Crate names (as Rust code spells them: hyphens become underscores) from the manifest's [dependencies] table.</summary>
    public static IReadOnlyList<string> DependencyNames(string manifestText, string manifestPath)
    {
        var names = new List<string>();
        var inDeps = false;
        var lineNo = 0;
        foreach (var raw in manifestText.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.StartsWith('[')) { inDeps = line == "[dependencies]"; continue; }
            if (!inDeps) continue;
            var eq = line.IndexOf('=');
            if (eq <= 0) throw SmeltException.BadInput($"{manifestPath}:{lineNo}: expected 'name = \"version\"' in [dependencies]");
            var name = line[..eq].Trim().Trim('"');
            if (line.Contains("package", StringComparison.Ordinal) && line.Contains('{'))
                throw SmeltException.BadInput($"{manifestPath}:{lineNo}: renamed dependencies ('package = ...') are not supported in the crate set; use the crate's own name");
            names.Add(name.Replace('-', '_'));
        }
        if (names.Count == 0) throw SmeltException.BadInput($"{manifestPath}: [dependencies] is empty; remove the crate set with --no-crates instead");
        return names;
    }

    private static Dictionary<string, string> ParseArtifacts(string cargoStdout)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in cargoStdout.Split('\n'))
        {
            if (!line.StartsWith('{')) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.GetProperty("reason").GetString() != "compiler-artifact") continue;
                var name = root.GetProperty("target").GetProperty("name").GetString()!;
                foreach (var f in root.GetProperty("filenames").EnumerateArray())
                    if (f.GetString() is { } path && path.EndsWith(".rlib", StringComparison.Ordinal) && path.Contains("/deps/", StringComparison.Ordinal))
                        map[name] = path;
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException) { }
        }
        return map;
    }

    private static string CargoErrors(string stdout, string stderr)
    {
        var sb = new StringBuilder();
        foreach (var line in stdout.Split('\n'))
        {
            if (!line.StartsWith('{')) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object &&
                    m.TryGetProperty("level", out var lvl) && lvl.GetString() == "error")
                    sb.AppendLine(m.GetProperty("rendered").GetString());
            }
            catch (JsonException) { }
        }
        sb.Append(stderr);
        return sb.ToString();
    }

    private sealed record ExternEntry(string Name, string File);
    private sealed record ExternsManifest(string Key, List<ExternEntry> Externs);
}
