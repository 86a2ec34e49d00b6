namespace Smelt.Model.Tests;

/// <summary>
/// An independent, deliberately plain Llama forward pass for tests: double precision, explicit loops over positions, heads and
/// dimensions, no tensors, no KV cache, nothing shared with the production code. Weights are row-major [out, in] arrays
/// keyed by Hugging Face names.
/// </summary>
internal sealed class ReferenceLlama(RefConfig c, IReadOnlyDictionary<string, float[]> w)
{
    public double[][] Logits(int[] tokens, int[]? positions = null)
    {
        positions ??= Enumerable.Range(0, tokens.Length).ToArray();
        var T = tokens.Length;
        var x = new double[T][];
        for (var t = 0; t < T; t++) x[t] = Row(w["model.embed_tokens.weight"], tokens[t], c.Hidden);
        for (var l = 0; l < c.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var q = new double[T][]; var k = new double[T][]; var v = new double[T][];
            for (var t = 0; t < T; t++)
            {
                var xn = RmsNorm(x[t], w[p + "input_layernorm.weight"]);
                q[t] = Affine(w[p + "self_attn.q_proj.weight"], Bias(p + "self_attn.q_proj.bias"), xn, c.Heads * c.HeadDim);
                k[t] = Affine(w[p + "self_attn.k_proj.weight"], Bias(p + "self_attn.k_proj.bias"), xn, c.KvHeads * c.HeadDim);
                v[t] = Affine(w[p + "self_attn.v_proj.weight"], Bias(p + "self_attn.v_proj.bias"), xn, c.KvHeads * c.HeadDim);
                for (var h = 0; h < c.Heads; h++) Rope(q[t], h * c.HeadDim, positions[t]);
                for (var h = 0; h < c.KvHeads; h++) Rope(k[t], h * c.HeadDim, positions[t]);
            }
            for (var t = 0; t < T; t++)
            {
                var concat = new double[c.Heads * c.HeadDim];
                for (var h = 0; h < c.Heads; h++)
                {
                    var kvh = h / (c.Heads / c.KvHeads);
                    var scores = new double[t + 1];
                    var from = c.Window is int win ? Math.Max(0, t - win + 1) : 0;
                    for (var s = 0; s < from; s++) scores[s] = double.NegativeInfinity;
                    for (var s = from; s <= t; s++)
                    {
                        double dot = 0;
                        for (var d = 0; d < c.HeadDim; d++) dot += q[t][h * c.HeadDim + d] * k[s][kvh * c.HeadDim + d];
                        scores[s] = dot / Math.Sqrt(c.HeadDim);
                    }
                    var max = scores.Max();
                    var sum = scores.Sum(z => Math.Exp(z - max));
                    for (var s = 0; s <= t; s++)
                    {
                        var a = Math.Exp(scores[s] - max) / sum;
                        for (var d = 0; d < c.HeadDim; d++) concat[h * c.HeadDim + d] += a * v[s][kvh * c.HeadDim + d];
                    }
                }
                var o = Affine(w[p + "self_attn.o_proj.weight"], Bias(p + "self_attn.o_proj.bias"), concat, c.Hidden);
                for (var i = 0; i < c.Hidden; i++) x[t][i] += o[i];
                var hn = RmsNorm(x[t], w[p + "post_attention_layernorm.weight"]);
                var gate = Affine(w[p + "mlp.gate_proj.weight"], null, hn, c.Intermediate);
                var up = Affine(w[p + "mlp.up_proj.weight"], null, hn, c.Intermediate);
                var act = new double[c.Intermediate];
                for (var i = 0; i < c.Intermediate; i++) act[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                var down = Affine(w[p + "mlp.down_proj.weight"], null, act, c.Hidden);
                for (var i = 0; i < c.Hidden; i++) x[t][i] += down[i];
            }
        }
        var head = c.Tied ? w["model.embed_tokens.weight"] : w["lm_head.weight"];
        return x.Select(xt => Affine(head, null, RmsNorm(xt, w["model.norm.weight"]), c.Vocab)).ToArray();
    }

    private float[]? Bias(string name) => w.TryGetValue(name, out var b) ? b : null;

    private static double[] Row(float[] m, int row, int width) => Enumerable.Range(0, width).Select(i => (double)m[row * width + i]).ToArray();

    private static double[] Affine(float[] m, float[]? bias, double[] x, int outDim)
    {
        var y = new double[outDim];
        for (var o = 0; o < outDim; o++)
        {
            double acc = bias?[o] ?? 0;
            for (var i = 0; i < x.Length; i++) acc += m[o * x.Length + i] * x[i];
            y[o] = acc;
        }
        return y;
    }

    private double[] RmsNorm(double[] x, float[] weight)
    {
        var ms = x.Sum(z => z * z) / x.Length;
        var r = 1 / Math.Sqrt(ms + c.Eps);
        return x.Select((z, i) => z * r * weight[i]).ToArray();
    }

    /// <summary>Rotates pairs (i, i + hd/2) of one head by position × frequency_i.</summary>
    private void Rope(double[] vec, int offset, int position)
    {
        var half = c.HeadDim / 2;
        for (var i = 0; i < half; i++)
        {
            var angle = position * Frequency(i);
            double a = vec[offset + i], b = vec[offset + i + half];
            vec[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            vec[offset + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
        }
    }

    private double Frequency(int i)
    {
        var f = Math.Pow(c.Theta, -2.0 * i / c.HeadDim);
        if (c.Llama3 is not { } s) return f;
        // Llama 3.1 rope scaling, written out from its description: wavelengths below original/high_freq_factor are kept,
        // those above original/low_freq_factor are stretched by factor, and those between interpolate linearly in 1/wavelength.
        var wavelength = 2 * Math.PI / f;
        if (wavelength < s.Original / s.High) return f;
        if (wavelength > s.Original / s.Low) return f / s.Factor;
        var alpha = (s.Original / wavelength - s.Low) / (s.High - s.Low);
        return alpha * f + (1 - alpha) * f / s.Factor;
    }
}

internal sealed record Llama3Rope(double Factor, double Low, double High, double Original);

internal sealed record RefConfig(int Vocab, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int HeadDim,
    bool Tied, bool QkvBias, double Eps = 1e-5, double Theta = 10000, Llama3Rope? Llama3 = null, string Arch = "LlamaForCausalLM", int? Window = null);
