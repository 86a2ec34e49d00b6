using System.Text.Json;
using System.Text.Json.Nodes;

namespace Smelt.Data;

public enum RecordKind
{
    /// <summary>Raw code (<c>text</c>/<c>content</c>, or a source file): trained on as a whole.</summary>
    Raw,
    /// <summary>A prompt and a response (<c>prompt</c>/<c>gen</c>): loss on the response only.</summary>
    Instruction,
    /// <summary>Chat turns (<c>messages</c>): loss on the assistant turns.</summary>
    Chat,
}

public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// One cleaned record, as the training side consumes it. Exactly the fields of its <see cref="Kind"/> are set:
/// <see cref="Text"/> for raw code, <see cref="Prompt"/> and <see cref="Response"/> for instructions,
/// <see cref="Messages"/> for chat.
/// </summary>
public sealed record TrainingRecord
{
    /// <summary>Stable identity: <c>source:line</c> for JSONL, <c>source:relative/path.rs</c> for directories, <c>source:row N</c> for Parquet.</summary>
    public required string Id { get; init; }
    public required string Source { get; init; }
    public required RecordKind Kind { get; init; }
    public string? Text { get; init; }
    public string? Prompt { get; init; }
    public string? Response { get; init; }
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    /// <summary>Original file path, when known (drives the path filters).</summary>
    public string? Path { get; init; }
    /// <summary>The record's <c>_task_type</c>, when present (drives oversampling).</summary>
    public string? TaskType { get; init; }
    /// <summary>0 for the record itself; 1, 2, ... for extra copies made by task-type oversampling.</summary>
    public int Copy { get; init; }

    /// <summary>The code the Rust filters look at: the raw text, the response, or the assistant turns.</summary>
    public string CodeText => Kind switch
    {
        RecordKind.Raw => Text ?? "",
        RecordKind.Instruction => Response ?? "",
        _ => string.Join("\n", (Messages ?? []).Where(m => m.Role == "assistant").Select(m => m.Content)),
    };

    /// <summary>Every text field, for the secrets scanner and decontamination.</summary>
    public IEnumerable<(string Field, string Value)> Fields()
    {
        switch (Kind)
        {
            case RecordKind.Raw:
                yield return ("text", Text ?? "");
                break;
            case RecordKind.Instruction:
                yield return ("prompt", Prompt ?? "");
                yield return ("gen", Response ?? "");
                break;
            default:
                var i = 0;
                foreach (var m in Messages ?? [])
                    yield return ($"messages[{i++}]", m.Content);
                break;
        }
    }

    public string AllText => string.Join("\n", Fields().Select(f => f.Value));

    /// <summary>A copy with every text field passed through <paramref name="map"/> (field name, value) → new value.</summary>
    public TrainingRecord MapFields(Func<string, string, string> map) => Kind switch
    {
        RecordKind.Raw => this with { Text = map("text", Text ?? "") },
        RecordKind.Instruction => this with { Prompt = map("prompt", Prompt ?? ""), Response = map("gen", Response ?? "") },
        _ => this with { Messages = (Messages ?? []).Select((m, i) => m with { Content = map($"messages[{i}]", m.Content) }).ToArray() },
    };

    /// <summary>A copy whose code (see <see cref="CodeText"/>) is replaced; for chat, the last assistant turn.</summary>
    public TrainingRecord WithCode(string code)
    {
        switch (Kind)
        {
            case RecordKind.Raw: return this with { Text = code };
            case RecordKind.Instruction: return this with { Response = code };
            default:
                var list = (Messages ?? []).ToArray();
                var last = Array.FindLastIndex(list, m => m.Role == "assistant");
                if (last < 0) return this;
                // CodeText joined every assistant turn; only a single-assistant record can take the code back unambiguously.
                if (list.Count(m => m.Role == "assistant") != 1) return this;
                list[last] = list[last] with { Content = code };
                return this with { Messages = list };
        }
    }

    /// <summary>The record as one JSONL line in the conventions the JSONL source reads back.</summary>
    public string ToJsonLine()
    {
        var o = new JsonObject();
        switch (Kind)
        {
            case RecordKind.Raw:
                o["text"] = Text;
                if (Path is not null) o["path"] = Path;
                break;
            case RecordKind.Instruction:
                o["prompt"] = Prompt;
                o["gen"] = Response;
                break;
            default:
                var arr = new JsonArray();
                foreach (var m in Messages ?? []) arr.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
                o["messages"] = arr;
                break;
        }
        if (TaskType is not null) o["_task_type"] = TaskType;
        o["_id"] = Id;
        return o.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
