using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Smelt.TestSupport.Hub;

/// <summary>One request as the server saw it.</summary>
public sealed record RecordedRequest(string Server, string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Path => Target.Split('?', 2)[0];
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A deliberately small HTTP/1.1 server on 127.0.0.1 (one request per connection, <c>Connection: close</c>) for tests and benchmarks.
/// Unlike HttpListener it lets a handler drop the connection in the middle of a body.
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<RecordedRequest, ResponseWriter, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public string Name { get; }
    public int Port { get; }
    public Uri BaseUri { get; }
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();
    private int _active;
    private int _maxConcurrent;
    /// <summary>The most requests this server was handling at the same moment.</summary>
    public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

    public LoopbackHttpServer(string name, Func<RecordedRequest, ResponseWriter, Task> handler)
    {
        Name = name;
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(64);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseUri = new Uri($"http://127.0.0.1:{Port}");
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            try
            {
                var request = await ReadRequestAsync(stream);
                if (request is null) return;
                Requests.Enqueue(request);
                var writer = new ResponseWriter(client, stream, request.Method == "HEAD");
                var now = Interlocked.Increment(ref _active);
                int seen;
                while (now > (seen = Volatile.Read(ref _maxConcurrent)) && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen) { }
                try
                {
                    await _handler(request, writer);
                }
                catch (Exception e) when (!writer.Started)
                {
                    await writer.RespondAsync(500, "text/plain", Encoding.UTF8.GetBytes("test server handler failed: " + e.Message));
                }
                finally
                {
                    Interlocked.Decrement(ref _active);
                }
                if (!writer.Aborted) await stream.FlushAsync();
            }
            catch (IOException) { }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }
    }

    private async Task<RecordedRequest?> ReadRequestAsync(NetworkStream stream)
    {
        var head = new MemoryStream();
        var one = new byte[1];
        while (true)
        {
            var n = await stream.ReadAsync(one, _stop.Token);
            if (n == 0) return null;
            head.WriteByte(one[0]);
            var b = head.GetBuffer();
            var len = (int)head.Length;
            if (len >= 4 && b[len - 4] == '\r' && b[len - 3] == '\n' && b[len - 2] == '\r' && b[len - 1] == '\n') break;
            if (len > 64 * 1024) return null;
        }
        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
        var first = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var body = Array.Empty<byte>();
        if (headers.TryGetValue("Content-Length", out var cl) && long.TryParse(cl, out var length) && length > 0)
        {
            body = new byte[length];
            await stream.ReadExactlyAsync(body, _stop.Token);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await ReadChunkedAsync(stream);
        }
        return new RecordedRequest(Name, first[0], first.Length > 1 ? first[1] : "/", headers, body);
    }

    private async Task<byte[]> ReadChunkedAsync(NetworkStream stream)
    {
        var result = new MemoryStream();
        while (true)
        {
            var sizeLine = await ReadLineAsync(stream);
            var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
            if (size == 0)
            {
                while ((await ReadLineAsync(stream)).Length > 0) { }
                return result.ToArray();
            }
            var chunk = new byte[size];
            await stream.ReadExactlyAsync(chunk, _stop.Token);
            result.Write(chunk);
            await ReadLineAsync(stream);
        }
    }

    private async Task<string> ReadLineAsync(NetworkStream stream)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await stream.ReadExactlyAsync(one, _stop.Token);
            if (one[0] == '\n') return sb.ToString().TrimEnd('\r');
            sb.Append((char)one[0]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop; } catch (Exception) { }
        _stop.Dispose();
    }
}

public sealed class ResponseWriter
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly bool _headOnly;

    public bool Started { get; private set; }
    public bool Aborted { get; private set; }

    internal ResponseWriter(TcpClient client, NetworkStream stream, bool headOnly)
    {
        _client = client;
        _stream = stream;
        _headOnly = headOnly;
    }

    /// <summary>Writes the status line and headers; <c>Content-Length</c> is the caller's to set.</summary>
    public async Task WriteHeadAsync(int status, IEnumerable<KeyValuePair<string, string>> headers)
    {
        Started = true;
        var sb = new StringBuilder($"HTTP/1.1 {status} {Reason(status)}\r\n");
        foreach (var (k, v) in headers) sb.Append(k).Append(": ").Append(v).Append("\r\n");
        sb.Append("Connection: close\r\n\r\n");
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
    }

    public async Task WriteBodyAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_headOnly) return;
        await _stream.WriteAsync(bytes);
    }

    public async Task RespondAsync(int status, string contentType, byte[] body, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        var all = (headers ?? []).Append(KeyValuePair.Create("Content-Type", contentType))
            .Append(KeyValuePair.Create("Content-Length", body.Length.ToString())).ToList();
        await WriteHeadAsync(status, all);
        await WriteBodyAsync(body);
    }

    /// <summary>Drops the connection at once (RST), as a failing network or server would.</summary>
    public void Abort()
    {
        Aborted = true;
        _client.Client.LingerState = new LingerOption(true, 0);
        _client.Client.Close();
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 302 => "Found", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found",
        416 => "Range Not Satisfiable", 500 => "Internal Server Error", 502 => "Bad Gateway", 503 => "Service Unavailable",
        _ => "Status",
    };
}
