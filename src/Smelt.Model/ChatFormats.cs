using Smelt.Core;

namespace Smelt.Model;

public enum ChatFormat { Raw, Llama3, ChatML }

public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// Prompt formats. Raw passes text through (BOS added when the tokenizer asks for it); Llama-3 and ChatML render messages
/// with their special tokens. The Jinja strings are what <c>tokenizer_config.json</c> carries for the Python stack; they
/// produce the same text as <see cref="Render"/>.
/// </summary>
public static class ChatFormats
{
    public const string Llama3Jinja =
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    public const string ChatMLJinja =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    public static ChatFormat Parse(string? name) => (name ?? "raw").Trim().ToLowerInvariant() switch
    {
        "raw" or "none" => ChatFormat.Raw,
        "llama3" or "llama-3" => ChatFormat.Llama3,
        "chatml" => ChatFormat.ChatML,
        _ => throw SmeltException.BadInput($"chat format '{name}': expected raw, llama3 or chatml"),
    };

    /// <summary>Guesses the format a tokenizer_config.json chat_template implements (by its special tokens).</summary>
    public static ChatFormat? Detect(string? jinja)
    {
        if (string.IsNullOrEmpty(jinja)) return null;
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal)) return ChatFormat.Llama3;
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal)) return ChatFormat.ChatML;
        return null;
    }

    /// <summary>The text for a conversation, ending with the assistant's turn opened for generation.</summary>
    public static string Render(ChatFormat format, IReadOnlyList<ChatMessage> messages, string bosToken)
    {
        var sb = new System.Text.StringBuilder();
        switch (format)
        {
            case ChatFormat.Raw:
                foreach (var m in messages) sb.Append(m.Content);
                break;
            case ChatFormat.Llama3:
                sb.Append(bosToken);
                foreach (var m in messages) sb.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content).Append("<|eot_id|>");
                sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case ChatFormat.ChatML:
                foreach (var m in messages) sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                sb.Append("<|im_start|>assistant\n");
                break;
        }
        return sb.ToString();
    }

    /// <summary>The token that ends an assistant turn in this format (besides the model's EOS).</summary>
    public static string? EndOfTurn(ChatFormat format) => format switch
    {
        ChatFormat.Llama3 => "<|eot_id|>",
        ChatFormat.ChatML => "<|im_end|>",
        _ => null,
    };
}
