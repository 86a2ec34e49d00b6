using Smelt.Eval;

namespace Smelt.Eval.Tests;

public sealed class PassAtKTests
{
    [Theory]
    // Hand-computed: 1 - C(n-c,k)/C(n,k).
    [InlineData(10, 0, 1, 0.0)]
    [InlineData(10, 10, 1, 1.0)]
    [InlineData(10, 3, 1, 0.3)]                    // 1 - 7/10
    [InlineData(10, 3, 2, 1.0 - 21.0 / 45.0)]      // C(7,2)=21, C(10,2)=45
    [InlineData(10, 3, 5, 1.0 - 21.0 / 252.0)]     // C(7,5)=21, C(10,5)=252
    [InlineData(5, 1, 5, 1.0)]                     // n-c < k
    [InlineData(4, 2, 3, 1.0)]                     // C(2,3)=0
    [InlineData(20, 1, 10, 0.5)]                   // 1 - C(19,10)/C(20,10) = 1 - 10/20
    public void Matches_hand_computed_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k)!.Value, 12);

    [Fact]
    public void Stays_finite_where_binomials_overflow()
    {
        // C(2000,1000) overflows double; the product form does not. 1 - C(1999,1000)/C(2000,1000) = 1000/2000.
        Assert.Equal(0.5, PassAtK.Estimate(2000, 1, 1000)!.Value, 10);
        var v = PassAtK.Estimate(5000, 17, 100)!.Value;
        Assert.InRange(v, 0.0, 1.0);
        Assert.False(double.IsNaN(v));
    }

    [Fact]
    public void K_larger_than_n_is_not_computable() => Assert.Null(PassAtK.Estimate(3, 1, 5));

    [Fact]
    public void Rejects_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(3, 4, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(3, 1, 0));
    }

    [Fact]
    public void Summary_reports_not_computable_tasks_instead_of_dropping_them()
    {
        var results = new List<SampleResult>();
        for (var i = 0; i < 4; i++) results.Add(R("A", i, i < 2 ? Status.Passed : Status.Failed));
        results.Add(R("B", 0, Status.Passed));
        var s = EvalSummary.Build(results, [1, 2], inputIssues: 0, clippy: true, complete: true);
        var p1 = s.PassAtKValues.Single(p => p.K == 1);
        Assert.Equal((0.5 + 1.0) / 2, p1.Value!.Value, 12);
        var p2 = s.PassAtKValues.Single(p => p.K == 2);
        Assert.Null(p2.Value);
        Assert.Equal(["B"], p2.NotComputableTasks);
        Assert.Equal(1.0 - 1.0 / 6.0, p2.ValueOverComputableTasks!.Value, 12); // task A: 1 - C(2,2)/C(4,2)
        Assert.Equal(2, s.NTasks);
        Assert.Equal(5, s.NSamples);
        Assert.Equal(3, s.StatusCounts[Status.Passed]);
    }

    private static SampleResult R(string task, int i, string status) => new()
    {
        TaskId = task, Sample = i, Line = i + 1, Status = status, CompileOk = true, TestOk = status == Status.Passed, ClippyWarnings = 0,
    };
}

public sealed class BatchingTests
{
    [Theory]
    [InlineData(164, 2, 64, 41)]
    [InlineData(1640, 2, 64, 64)]
    [InlineData(10, 2, 64, 5)]
    [InlineData(1, 2, 64, 1)]
    [InlineData(50, 1, 50, 50)]
    [InlineData(50, 4, 1, 1)]
    public void Batches_are_even_and_a_multiple_of_the_workers(int count, int workers, int max, int expected) =>
        Assert.Equal(expected, Evaluator.BatchSize(count, workers, max));
}
