using Smelt.Model;

namespace Smelt.Training.Data;

/// <summary>The model's Hugging Face tokenizer seen through <see cref="ITrainTokenizer"/>.</summary>
public sealed class TokenizerAdapter(TextTokenizer tokenizer, ModelConfig config) : ITrainTokenizer
{
    public TextTokenizer Inner => tokenizer;
    public int VocabSize => tokenizer.VocabSize;
    /// <summary>The config's first EOS id, else the tokenizer's lowest.</summary>
    public int EosId { get; } = config.EosTokenIds.Count > 0 ? config.EosTokenIds[0]
        : tokenizer.EosIds.Count > 0 ? tokenizer.EosIds.Min()
        : throw Smelt.Core.SmeltException.BadInput($"{tokenizer.Directory}: the tokenizer defines no EOS token (eos_token in tokenizer_config.json or eos_token_id in config.json); training needs one to end documents");
    public int? BosId => tokenizer.AddBos ? tokenizer.BosId : null;
    public int PadId => config.PadTokenId ?? EosId;
    public int? SpecialTokenId(string token) => tokenizer.IdOf(token);
    public IReadOnlyList<int> Encode(string text) => tokenizer.Encode(text, addBos: false);
}
