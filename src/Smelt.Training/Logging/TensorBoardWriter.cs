using System.Buffers.Binary;
using Google.Protobuf;

namespace Smelt.Training.Logging;

/// <summary>
/// Writes a TensorBoard event file (<c>events.out.tfevents.*</c>): TFRecord framing (length, masked CRC-32C of the length,
/// payload, masked CRC-32C of the payload) around serialized <c>tensorflow.Event</c> messages. Only the fields needed for
/// scalars are written, by hand: Event{wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5},
/// Summary{value=1 (repeated)}, Summary.Value{tag=1 (string), simple_value=2 (float)}.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    private readonly FileStream _stream;

    public TensorBoardWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow;
        // Unique per process and start time; resumed runs add a new file, which TensorBoard merges by step.
        Path = System.IO.Path.Combine(directory, $"events.out.tfevents.{now.ToUnixTimeSeconds()}.{Environment.MachineName}.{Environment.ProcessId}.{now.ToUnixTimeMilliseconds() % 1000}");
        _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        WriteRecord(EncodeEvent(WallTime(), 0, fileVersion: "brain.Event:2", scalars: null));
        _stream.Flush();
    }

    public string Path { get; }

    public void AddScalars(long step, IReadOnlyList<(string Tag, float Value)> scalars)
    {
        WriteRecord(EncodeEvent(WallTime(), step, null, scalars));
        _stream.Flush();
    }

    private static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    public static byte[] EncodeEvent(double wallTime, long step, string? fileVersion, IReadOnlyList<(string Tag, float Value)>? scalars)
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        output.WriteTag(1, WireFormat.WireType.Fixed64);
        output.WriteDouble(wallTime);
        if (step != 0)
        {
            output.WriteTag(2, WireFormat.WireType.Varint);
            output.WriteInt64(step);
        }
        if (fileVersion is not null)
        {
            output.WriteTag(3, WireFormat.WireType.LengthDelimited);
            output.WriteString(fileVersion);
        }
        if (scalars is { Count: > 0 })
        {
            output.WriteTag(5, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(EncodeSummary(scalars)));
        }
        output.Flush();
        return ms.ToArray();
    }

    private static byte[] EncodeSummary(IReadOnlyList<(string Tag, float Value)> scalars)
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        foreach (var (tag, value) in scalars)
        {
            using var vms = new MemoryStream();
            var v = new CodedOutputStream(vms);
            v.WriteTag(1, WireFormat.WireType.LengthDelimited);
            v.WriteString(tag);
            v.WriteTag(2, WireFormat.WireType.Fixed32);
            v.WriteFloat(value);
            v.Flush();
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(vms.ToArray()));
        }
        output.Flush();
        return ms.ToArray();
    }

    private void WriteRecord(byte[] payload)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        _stream.Write(header);
        _stream.Write(payload);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(payload));
        _stream.Write(footer);
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>One decoded scalar event (tests and `smelt` tooling read event files back with this).</summary>
public sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Scalars);

/// <summary>Reads TFRecord-framed event files, verifying both CRCs of every record.</summary>
public static class TensorBoardReader
{
    public static IReadOnlyList<TensorBoardEvent> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<TensorBoardEvent>();
        var pos = 0;
        while (pos < bytes.Length)
        {
            if (bytes.Length - pos < 12) throw new InvalidDataException($"{path}: truncated record header at byte {pos}");
            var header = bytes.AsSpan(pos, 8);
            var length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8, 4)) != Crc32C.Masked(header))
                throw new InvalidDataException($"{path}: length CRC mismatch at byte {pos}");
            pos += 12;
            if ((ulong)(bytes.Length - pos) < length + 4) throw new InvalidDataException($"{path}: truncated record at byte {pos}");
            var payload = bytes.AsSpan(pos, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + (int)length, 4)) != Crc32C.Masked(payload))
                throw new InvalidDataException($"{path}: payload CRC mismatch at byte {pos}");
            events.Add(DecodeEvent(payload.ToArray()));
            pos += (int)length + 4;
        }
        return events;
    }

    public static TensorBoardEvent DecodeEvent(byte[] payload)
    {
        var input = new CodedInputStream(payload);
        double wall = 0;
        long step = 0;
        string? version = null;
        var scalars = new List<(string, float)>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: wall = input.ReadDouble(); break;
                case 2: step = input.ReadInt64(); break;
                case 3: version = input.ReadString(); break;
                case 5: scalars.AddRange(DecodeSummary(input.ReadBytes().ToByteArray())); break;
                default: input.SkipLastField(); break;
            }
        }
        return new TensorBoardEvent(wall, step, version, scalars);
    }

    private static IEnumerable<(string, float)> DecodeSummary(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        var result = new List<(string, float)>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) != 1) { input.SkipLastField(); continue; }
            var value = new CodedInputStream(input.ReadBytes().ToByteArray());
            string name = "";
            float simple = float.NaN;
            uint vt;
            while ((vt = value.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(vt))
                {
                    case 1: name = value.ReadString(); break;
                    case 2: simple = value.ReadFloat(); break;
                    default: value.SkipLastField(); break;
                }
            }
            result.Add((name, simple));
        }
        return result;
    }
}
