namespace Smelt.Sandbox.Tests;

/// <summary>The `smelt sandbox check` engine against the real backends: every item must hold.</summary>
public sealed class SelfCheckTests
{
    [SandboxFact("bwrap", needsRust: true)]
    public Task Bwrap_passes_every_check() => AllHold("bwrap");

    [SandboxFact("firejail", needsRust: true)]
    public Task Firejail_passes_every_check() => AllHold("firejail");

    private static async Task AllHold(string backend)
    {
        var report = await SelfCheck.RunAsync(SandboxFactory.Create(backend), Rust.Sysroot);
        Assert.Equal(SelfCheck.ItemNames, report.Items.Select(i => i.Name));
        Assert.All(report.Items, i => Assert.True(i.Passed, $"{i.Name}: {i.Detail}"));
        Assert.True(report.AllPassed);
    }

    [Fact]
    public async Task The_unsandboxed_backend_fails_the_isolation_checks()
    {
        var sandbox = SandboxFactory.Create("none", allowUnsandboxed: true, new StringWriter());
        var report = await SelfCheck.RunAsync(sandbox, Rust.Sysroot);
        Assert.False(report.AllPassed);
        foreach (var name in new[] { "network blocked", "host secret unreadable", "PID namespace", "seccomp active" })
            Assert.False(report.Items.Single(i => i.Name == name).Passed, name);
        Assert.True(report.Items.Single(i => i.Name == "environment scrubbed").Passed);
    }

    [Fact]
    public async Task Without_a_toolchain_every_item_fails_with_the_reason()
    {
        var sandbox = SandboxFactory.Create("none", allowUnsandboxed: true, new StringWriter());
        var report = await SelfCheck.RunAsync(sandbox, sysroot: "/nonexistent-sysroot");
        Assert.False(report.AllPassed);
        Assert.All(report.Items, i => Assert.Contains("no Rust toolchain", i.Detail));
    }

    [SandboxFact("bwrap")]
    public async Task Quick_check_accepts_bwrap_and_rejects_none()
    {
        Assert.Null(await SandboxFactory.QuickCheck(SandboxFactory.Create("bwrap")));
        var none = await SandboxFactory.QuickCheck(SandboxFactory.Create("none", true, new StringWriter()));
        Assert.NotNull(none);
    }
}
