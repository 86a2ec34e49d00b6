namespace Smelt.Eval;

/// <summary>The unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k).</summary>
public static class PassAtK
{
    /// <summary>
    /// For one task with <paramref name="n"/> samples of which <paramref name="c"/> passed. Computed as the product
    /// 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms a huge binomial coefficient. Null when k &gt; n (not computable).
    /// </summary>
    public static double? Estimate(int n, int c, int k)
    {
        if (n < 0 || c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), $"need 0 <= c <= n (n={n}, c={c})");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), "k must be at least 1");
        if (k > n) return null;
        if (n - c < k) return 1.0;
        var prodFail = 1.0;
        for (var i = n - c + 1; i <= n; i++) prodFail *= 1.0 - (double)k / i;
        return 1.0 - prodFail;
    }
}
