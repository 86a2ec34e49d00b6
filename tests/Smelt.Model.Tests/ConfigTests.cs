using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;

namespace Smelt.Model.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smelt-cfg-");
    public void Dispose() => _dir.Delete(true);

    private const string Llama31 = """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":2048,"intermediate_size":8192,
         "num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,"rms_norm_eps":1e-05,"rope_theta":500000.0,
         "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
         "max_position_embeddings":131072,"tie_word_embeddings":true,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],"torch_dtype":"bfloat16"}
        """;

    private const string Qwen25 = """
        {"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","vocab_size":151936,"hidden_size":896,"intermediate_size":4864,
         "num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
         "max_position_embeddings":32768,"tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151645,"torch_dtype":"bfloat16",
         "use_sliding_window":false,"sliding_window":32768,"rope_scaling":null}
        """;

    private const string Mistral = """
        {"architectures":["MistralForCausalLM"],"model_type":"mistral","vocab_size":32768,"hidden_size":4096,"intermediate_size":14336,
         "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":128,"rms_norm_eps":1e-05,"rope_theta":1000000.0,
         "max_position_embeddings":32768,"tie_word_embeddings":false,"sliding_window":null,"bos_token_id":1,"eos_token_id":2}
        """;

    private ModelConfig Load(string json)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "config.json"), json);
        return ModelConfig.Load(_dir.FullName);
    }

    [Fact]
    public void Parses_llama_3_2_with_llama3_rope_scaling()
    {
        var c = Load(Llama31);
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.Equal(64, c.HeadDim);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(new RopeScaling("llama3", 32, 1, 4, 8192), c.RopeScaling);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal(128000, c.BosTokenId);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.False(c.QkvBias);
        // Llama 3.2 1B has about 1.24B parameters.
        Assert.InRange(c.ParameterCount(), 1_230_000_000, 1_240_000_000);
    }

    [Fact]
    public void Parses_qwen2_with_qkv_bias_and_derived_head_dim()
    {
        var c = Load(Qwen25);
        Assert.Equal("qwen2", c.ModelType);
        Assert.Equal(64, c.HeadDim);
        Assert.True(c.QkvBias);
        Assert.False(c.OutputBias);
        Assert.Null(c.RopeScaling);
        Assert.Equal([151645], c.EosTokenIds);
        // Qwen2.5-0.5B has about 494M parameters.
        Assert.InRange(c.ParameterCount(), 490_000_000, 500_000_000);
    }

    [Fact]
    public void Parses_mistral()
    {
        var c = Load(Mistral);
        Assert.Equal("MistralForCausalLM", c.Architecture);
        Assert.Equal(128, c.HeadDim);
        Assert.False(c.TieWordEmbeddings);
    }

    [Fact]
    public void Round_trips_through_json()
    {
        var c = Load(Llama31);
        var back = ModelConfig.Parse(c.ToJson(), "x");
        Assert.Equal(c with { EosTokenIds = [] }, back with { EosTokenIds = [] });
        Assert.Equal(c.EosTokenIds, back.EosTokenIds);
    }

    [Fact]
    public void Missing_config_is_reported()
    {
        var ex = Assert.Throws<SmeltException>(() => ModelConfig.Load(_dir.FullName));
        Assert.Contains("config.json", ex.Message);
        Assert.Contains("not found", ex.Message);
    }

    [Theory]
    [InlineData("{ \"hidden_size\": ", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"architectures\":[\"GPT2LMHeadModel\"]}", "architecture 'GPT2LMHeadModel' is not supported")]
    [InlineData("{\"model_type\":\"bert\"}", "model_type 'bert'")]
    public void Corrupt_or_unsupported_config_is_reported(string json, string expected)
    {
        var ex = Assert.Throws<SmeltException>(() => Load(json));
        Assert.Contains(Path.Combine(_dir.FullName, "config.json"), ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("hidden_size", null, "required key 'hidden_size' is missing")]
    [InlineData("hidden_size", "\"big\"", "key 'hidden_size' must be an integer")]
    [InlineData("num_hidden_layers", "-2", "must be positive")]
    [InlineData("num_key_value_heads", "5", "must be a multiple of num_key_value_heads 5")]
    [InlineData("rms_norm_eps", "\"tiny\"", "key 'rms_norm_eps' must be a positive number")]
    [InlineData("rope_scaling", "{\"rope_type\":\"yarn\",\"factor\":4}", "rope_scaling type 'yarn' is not supported")]
    [InlineData("rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8}", "required key 'low_freq_factor' is missing")]
    [InlineData("tie_word_embeddings", "\"yes\"", "must be true or false")]
    [InlineData("torch_dtype", "\"int8\"", "torch_dtype 'int8' is not supported")]
    [InlineData("eos_token_id", "[1, \"x\"]", "key 'eos_token_id' must hold non-negative integers")]
    public void Bad_values_name_the_key(string key, string? value, string expected)
    {
        var o = JsonNode.Parse(Llama31)!.AsObject();
        if (value is null) o.Remove(key); else o[key] = JsonNode.Parse(value);
        var ex = Assert.Throws<SmeltException>(() => Load(o.ToJsonString()));
        Assert.Contains("config.json", ex.Message);
        Assert.Contains(expected, ex.Message);
    }
}
