using System.Text;
using Smelt.Eval.Rust;

namespace Smelt.Eval;

public enum CompletionShape { Body, WholeFunction }

/// <summary>The solution code for one sample: the items that go into the sample's module, and how they were recognised.</summary>
public sealed record Solution(string Code, CompletionShape Shape, bool Fenced, IReadOnlyList<string> InnerAttributes);

/// <summary>
/// Turns a completion, in whatever shape a model produced it, into the items of a program:
/// a body continuation (with or without the closing brace), a whole function with its signature (with or without
/// <c>use</c> lines and helpers), fenced markdown, trailing <c>fn main</c> or test modules (dropped: the problem's tests decide).
/// The decision is made on tokens and top-level items, not on substrings.
/// </summary>
public static class CompletionNormalizer
{
    public static Solution Normalize(Problem problem, string completion)
    {
        var (code, fenced) = ExtractCode(completion, problem.EntryPoint);
        var items = RustItems.Split(code);
        if (items is not null && items.Any(i => i.Kind == ItemKind.Fn && i.Name == problem.EntryPoint && !i.IsTestOnly))
            return FromItems(problem, code, items, CompletionShape.WholeFunction, fenced);

        // Body continuation: attach to the entry function's signature and find where the function closes.
        var text = problem.Signature + (problem.Signature.EndsWith('\n') ? "" : "\n") + code;
        var close = RustItems.FindClose(text, out var missing);
        string function, rest;
        if (close < 0)
        {
            function = text.TrimEnd() + "\n" + new string('}', Math.Max(1, missing)) + "\n";
            rest = "";
        }
        else
        {
            function = text[..close] + "\n";
            rest = text[close..];
        }
        var restItems = RustItems.Split(rest);
        // Anything after the function that is not a sequence of items (stray braces, prose) is kept verbatim: it is the
        // model's output and the compiler will judge it.
        if (restItems is null)
            return new Solution(HelpersNotIn(problem, []) + function + rest, CompletionShape.Body, fenced, []);
        var all = new StringBuilder(function);
        var inner = new List<string>();
        var defined = new HashSet<string>(StringComparer.Ordinal) { problem.EntryPoint };
        foreach (var item in restItems)
        {
            if (Dropped(item)) continue;
            if (item.Kind == ItemKind.InnerAttribute) { inner.Add(item.Text(rest)); continue; }
            if (item.Name is not null) defined.Add(item.Name);
            all.Append(Closed(item, rest)).Append('\n');
        }
        return new Solution(HelpersNotIn(problem, defined) + all, CompletionShape.Body, fenced, inner);
    }

    private static Solution FromItems(Problem problem, string code, IReadOnlyList<RustItem> items, CompletionShape shape, bool fenced)
    {
        var sb = new StringBuilder();
        var inner = new List<string>();
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (Dropped(item)) continue;
            if (item.Kind == ItemKind.InnerAttribute) { inner.Add(item.Text(code)); continue; }
            if (item.Name is not null) defined.Add(item.Name);
            sb.Append(Closed(item, code)).Append('\n');
        }
        return new Solution(HelpersNotIn(problem, defined) + sb, shape, fenced, inner);
    }

    /// <summary>A completion's own <c>fn main</c> and its tests are not part of the answer.</summary>
    private static bool Dropped(RustItem item) =>
        item.IsTestOnly || (item.Kind == ItemKind.Fn && item.Name == "main");

    /// <summary>An item cut off before its closing braces (a truncated completion) gets them appended.</summary>
    private static string Closed(RustItem item, string source) =>
        item.Open ? item.Text(source).TrimEnd() + "\n" + new string('}', Math.Max(1, item.MissingClosers)) : item.Text(source);

    /// <summary>The problem's own helper items, except those the completion redefines.</summary>
    private static string HelpersNotIn(Problem problem, HashSet<string> defined)
    {
        var sb = new StringBuilder();
        foreach (var (name, text) in problem.Helpers)
            if (name is null || !defined.Contains(name))
                sb.Append(text).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// Markdown: when the completion contains fenced blocks, the code is the first rust (or unlabelled) block that defines
    /// the entry function, else the first such block. An unterminated fence runs to the end of the text.
    /// </summary>
    public static (string Code, bool Fenced) ExtractCode(string completion, string entryPoint)
    {
        var blocks = FencedBlocks(completion);
        if (blocks.Count == 0) return (completion, false);
        foreach (var block in blocks)
        {
            var items = RustItems.Split(block);
            if (items is not null && items.Any(i => i.Kind == ItemKind.Fn && i.Name == entryPoint)) return (block, true);
        }
        return (blocks[0], true);
    }

    private static List<string> FencedBlocks(string text)
    {
        var blocks = new List<string>();
        StringBuilder? current = null;
        var inBlock = false;
        var fence = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var trimmed = line.TrimStart();
            if (!inBlock)
            {
                if (!trimmed.StartsWith("```", StringComparison.Ordinal) && !trimmed.StartsWith("~~~", StringComparison.Ordinal)) continue;
                var marker = trimmed[0];
                var len = trimmed.TakeWhile(c => c == marker).Count();
                var info = trimmed[len..].Trim().ToLowerInvariant();
                var lang = info.Split([' ', ',', '{'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
                fence = new string(marker, len);
                inBlock = true;
                current = lang is "" or "rust" or "rs" ? new StringBuilder() : null;
                continue;
            }
            if (trimmed.StartsWith(fence, StringComparison.Ordinal) && trimmed.Trim(fence[0]).Trim().Length == 0)
            {
                if (current is not null) blocks.Add(current.ToString());
                current = null;
                inBlock = false;
                continue;
            }
            current?.Append(line).Append('\n');
        }
        if (current is not null) blocks.Add(current.ToString());
        return blocks;
    }
}
