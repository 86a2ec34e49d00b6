using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Smelt.Hub;
using Smelt.TestSupport.Hub;

// Hub download throughput from a loopback server vs a raw loopback socket copy of the same bytes, and cache-hit time.
var sizeMb = args.Length > 0 && int.TryParse(args[0], out var mb) ? mb : 100;
const int Rounds = 3;
var size = sizeMb * 1_000_000;
var data = new byte[size];
new Random(42).NextBytes(data);
var root = Directory.CreateTempSubdirectory("smelt-hub-bench-").FullName;

try
{
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, file {sizeMb} MB (10^6 bytes), median of {Rounds} runs, temp dir {root}");

    // The machine's own limits: hashing (the download verifies SHA-256), disk write + fsync, raw loopback TCP.
    var shaSpeed = Median(Rounds, () => Time(() => SHA256.HashData(data)));
    var diskSpeed = Median(Rounds, () => Time(() =>
    {
        var p = Path.Combine(root, "disk.bin");
        using (var fs = new FileStream(p, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16)) { fs.Write(data); fs.Flush(true); }
        File.Delete(p);
    }));
    var rawMemory = Median(Rounds, () => RawLoopbackCopy(data, null));
    var rawFile = Median(Rounds, () => RawLoopbackCopy(data, Path.Combine(root, "raw.bin")));

    await using var hub = new FakeHub();
    var repo = hub.Add(new FakeRepo { Id = "bench/big" });
    repo.Files.Add(new FakeFile { Path = "config.json", Content = "{}"u8.ToArray() });
    repo.Files.Add(new FakeFile { Path = "model.safetensors", Content = data, Lfs = true });

    HubSettings Settings(string cache, bool offline = false) => HubSettings.FromEnvironment(k => k switch
    {
        "HF_HOME" => cache,
        "SMELT_CACHE" => Path.Combine(cache, "smelt"),
        "HF_ENDPOINT" => hub.Endpoint.ToString(),
        "HF_HUB_OFFLINE" => offline ? "1" : null,
        "HOME" => root,
        _ => null,
    });

    var blobUrl = new Uri(hub.Cdn.BaseUri, "/blobs/" + repo.Files[1].Sha256);
    using var plain = new HttpClient();
    var plainGet = Median(Rounds, () => Time(() =>
    {
        var p = Path.Combine(root, "plain.bin");
        using (var response = plain.GetAsync(blobUrl, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
        using (var body = response.Content.ReadAsStream())
        using (var fs = new FileStream(p, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            body.CopyTo(fs, 1 << 17);
            fs.Flush(true);
        }
        File.Delete(p);
    }));

    var hubTimes = new List<double>();
    string lastCache = "";
    for (var i = 0; i < Rounds; i++)
    {
        lastCache = Path.Combine(root, $"cache{i}");
        using var client = new HubClient(Settings(lastCache));
        var sw = Stopwatch.StartNew();
        var snap = await client.DownloadSnapshotAsync("bench/big");
        hubTimes.Add(sw.Elapsed.TotalSeconds);
        if (!File.ReadAllBytes(Path.Combine(snap, "model.safetensors")).AsSpan().SequenceEqual(data)) throw new InvalidOperationException("downloaded bytes differ");
        if (i < Rounds - 1) Directory.Delete(lastCache, true);
    }
    var hubTime = hubTimes.Order().ElementAt(Rounds / 2);

    using var warm = new HubClient(Settings(lastCache));
    var hitOnline = MedianAsync(10, async () => await warm.DownloadSnapshotAsync("bench/big"));
    var hitCommit = MedianAsync(10, async () => await warm.DownloadSnapshotAsync("bench/big", revision: repo.Commit));
    using var offline = new HubClient(Settings(lastCache, offline: true));
    var hitOffline = MedianAsync(10, async () => await offline.DownloadSnapshotAsync("bench/big"));

    double Mbps(double seconds) => size / 1e6 / seconds;
    Console.WriteLine();
    Console.WriteLine($"{"what",-48} {"time",9} {"MB/s",9}");
    Console.WriteLine($"{"SHA-256 of the bytes in memory (limit)",-48} {shaSpeed,8:0.000}s {Mbps(shaSpeed),9:0}");
    Console.WriteLine($"{"disk write + fsync (limit)",-48} {diskSpeed,8:0.000}s {Mbps(diskSpeed),9:0}");
    Console.WriteLine($"{"raw loopback socket -> memory",-48} {rawMemory,8:0.000}s {Mbps(rawMemory),9:0}");
    Console.WriteLine($"{"raw loopback socket -> file + fsync",-48} {rawFile,8:0.000}s {Mbps(rawFile),9:0}");
    Console.WriteLine($"{"plain HttpClient GET from the same server -> file",-48} {plainGet,8:0.000}s {Mbps(plainGet),9:0}");
    Console.WriteLine($"{"smelt hub download (HEAD, 302, GET, fsync, SHA-256)",-48} {hubTime,8:0.000}s {Mbps(hubTime),9:0}");
    Console.WriteLine();
    Console.WriteLine($"ratio hub download / raw socket->file : {Mbps(hubTime) / Mbps(rawFile):0.00}");
    Console.WriteLine($"ratio hub download / raw socket->memory: {Mbps(hubTime) / Mbps(rawMemory):0.00}");
    Console.WriteLine();
    Console.WriteLine($"cache hit, branch 'main' (1 API request)      : {(await hitOnline) * 1000,8:0.00} ms");
    Console.WriteLine($"cache hit, commit hash (no request)           : {(await hitCommit) * 1000,8:0.00} ms");
    Console.WriteLine($"cache hit, HF_HUB_OFFLINE=1 (no request)      : {(await hitOffline) * 1000,8:0.00} ms");
    Console.WriteLine($"ratio cache hit (main) / full download        : {(await hitOnline) / hubTime:0.0000}");
}
finally
{
    Directory.Delete(root, true);
}

static double Time(Action action)
{
    var sw = Stopwatch.StartNew();
    action();
    return sw.Elapsed.TotalSeconds;
}

static double Median(int n, Func<double> f) => Enumerable.Range(0, n).Select(_ => f()).Order().ElementAt(n / 2);

static async Task<double> MedianAsync(int n, Func<Task> f)
{
    await f(); // warm-up
    var times = new List<double>();
    for (var i = 0; i < n; i++)
    {
        var sw = Stopwatch.StartNew();
        await f();
        times.Add(sw.Elapsed.TotalSeconds);
    }
    return times.Order().ElementAt(n / 2);
}

static double RawLoopbackCopy(byte[] data, string? file)
{
    var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    var port = ((IPEndPoint)listener.LocalEndpoint).Port;
    var server = Task.Run(() =>
    {
        using var c = listener.AcceptTcpClient();
        using var s = c.GetStream();
        for (var o = 0; o < data.Length; o += 1 << 20) s.Write(data, o, Math.Min(1 << 20, data.Length - o));
    });
    var sw = Stopwatch.StartNew();
    using (var client = new TcpClient())
    {
        client.Connect(IPAddress.Loopback, port);
        using var stream = client.GetStream();
        using var output = file is null ? Stream.Null : new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new byte[1 << 17];
        long total = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0) { output.Write(buffer, 0, n); total += n; }
        if (output is FileStream fs) fs.Flush(true);
        if (total != data.Length) throw new InvalidOperationException("raw copy incomplete");
    }
    var t = sw.Elapsed.TotalSeconds;
    server.Wait();
    listener.Stop();
    if (file is not null) File.Delete(file);
    return t;
}
