namespace Smelt.Training.Data;

/// <summary>What the trainer needs from a tokenizer. <see cref="Encode"/> must not add special tokens itself.</summary>
public interface ITrainTokenizer
{
    int VocabSize { get; }
    int EosId { get; }
    /// <summary>Prepended to every document when the model family expects it (Llama); null otherwise.</summary>
    int? BosId { get; }
    int PadId { get; }
    /// <summary>The id of a special token such as <c>&lt;|im_start|&gt;</c>, if the vocabulary has it.</summary>
    int? SpecialTokenId(string token);
    IReadOnlyList<int> Encode(string text);
}

public enum ExampleKind { Raw, Instruction, Chat }

/// <summary>A training example before tokenisation (the trainer's view of a cleaned data record).</summary>
public sealed record Example(string Id, ExampleKind Kind, string? Text = null, string? Prompt = null, string? Response = null,
    IReadOnlyList<(string Role, string Content)>? Messages = null);

/// <summary>A run of text and whether the loss applies to its tokens.</summary>
public readonly record struct Segment(string Text, bool Train, bool IsSpecial = false);

/// <summary>One tokenised document: tokens and a per-token loss mask (same length).</summary>
public sealed record TokenizedDoc(string Id, int[] Tokens, bool[] Train);

/// <summary>
/// Turns examples into text segments with loss flags, following the tokenizer's conventions:
/// <list type="bullet">
/// <item>raw code: the whole text is trained on;</item>
/// <item>instruction (prompt + response, as code-dataset pipelines write them): the response directly continues the
/// prompt (the way a completion model is prompted at evaluation), and only the response is trained on;</item>
/// <item>chat: ChatML (<c>&lt;|im_start|&gt;role ... &lt;|im_end|&gt;</c>) when the vocabulary has those tokens, Llama-3 headers when it
/// has <c>&lt;|start_header_id|&gt;</c>, else a plain "### Role:" layout; only assistant turns (and their end marker) are trained on.</item>
/// </list>
/// EOS is appended to every document (and trained on when the last segment is), BOS prepended when the tokenizer has one.
/// </summary>
public sealed class ExampleFormatter
{
    private readonly ITrainTokenizer _tokenizer;
    private readonly string _template;

    public ExampleFormatter(ITrainTokenizer tokenizer, string template = "auto")
    {
        _tokenizer = tokenizer;
        _template = template;
        ChatStyle = tokenizer.SpecialTokenId("<|im_start|>") is not null && tokenizer.SpecialTokenId("<|im_end|>") is not null ? "chatml"
            : tokenizer.SpecialTokenId("<|start_header_id|>") is not null && tokenizer.SpecialTokenId("<|eot_id|>") is not null ? "llama3"
            : "plain";
    }

    /// <summary>chatml | llama3 | plain, detected from the vocabulary.</summary>
    public string ChatStyle { get; }

    public IReadOnlyList<Segment> Render(Example e)
    {
        var kind = _template switch
        {
            "raw" => ExampleKind.Raw,
            "instruction" => e.Kind == ExampleKind.Chat ? ExampleKind.Chat : ExampleKind.Instruction,
            "chat" => ExampleKind.Chat,
            _ => e.Kind,
        };
        return kind switch
        {
            ExampleKind.Raw => [new Segment(Flatten(e), true)],
            ExampleKind.Instruction when e.Kind == ExampleKind.Instruction => [new Segment(e.Prompt ?? "", false), new Segment(e.Response ?? "", true)],
            ExampleKind.Instruction => [new Segment(Flatten(e), true)],
            _ => Chat(e.Kind switch
            {
                ExampleKind.Chat => e.Messages ?? [],
                ExampleKind.Instruction => [("user", e.Prompt ?? ""), ("assistant", e.Response ?? "")],
                _ => [("assistant", e.Text ?? "")],
            }),
        };
    }

    private static string Flatten(Example e) => e.Kind switch
    {
        ExampleKind.Raw => e.Text ?? "",
        ExampleKind.Instruction => (e.Prompt ?? "") + (e.Response ?? ""),
        _ => string.Join("\n", (e.Messages ?? []).Select(m => m.Content)),
    };

    private List<Segment> Chat(IReadOnlyList<(string Role, string Content)> messages)
    {
        var segments = new List<Segment>();
        foreach (var (role, content) in messages)
        {
            var train = role == "assistant";
            switch (ChatStyle)
            {
                case "chatml":
                    segments.Add(new Segment("<|im_start|>", false, true));
                    segments.Add(new Segment($"{role}\n", false));
                    segments.Add(new Segment(content, train));
                    segments.Add(new Segment("<|im_end|>", train, true));
                    segments.Add(new Segment("\n", false));
                    break;
                case "llama3":
                    segments.Add(new Segment("<|start_header_id|>", false, true));
                    segments.Add(new Segment(role, false));
                    segments.Add(new Segment("<|end_header_id|>", false, true));
                    segments.Add(new Segment("\n\n", false));
                    segments.Add(new Segment(content, train));
                    segments.Add(new Segment("<|eot_id|>", train, true));
                    break;
                default:
                    segments.Add(new Segment($"### {char.ToUpperInvariant(role[0])}{role[1..]}:\n", false));
                    segments.Add(new Segment(content + "\n", train));
                    break;
            }
        }
        return segments;
    }

    /// <summary>Renders and tokenises one example; segments are tokenised separately so the loss mask aligns exactly with them.</summary>
    public TokenizedDoc Tokenize(Example e)
    {
        var tokens = new List<int>();
        var train = new List<bool>();
        if (_tokenizer.BosId is { } bos) { tokens.Add(bos); train.Add(false); }
        var segments = Render(e);
        foreach (var s in segments)
        {
            if (s.Text.Length == 0) continue;
            if (s.IsSpecial && _tokenizer.SpecialTokenId(s.Text) is { } id)
            {
                tokens.Add(id);
                train.Add(s.Train);
                continue;
            }
            foreach (var t in _tokenizer.Encode(s.Text)) { tokens.Add(t); train.Add(s.Train); }
        }
        tokens.Add(_tokenizer.EosId);
        train.Add(segments.Count > 0 && segments.Any(s => s.Train));
        return new TokenizedDoc(e.Id, [.. tokens], [.. train]);
    }
}
