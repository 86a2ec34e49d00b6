using Smelt.Core;

namespace Smelt.Sandbox.Tests;

public sealed class FactoryTests
{
    [Fact]
    public void None_without_the_explicit_flag_is_refused_with_exit_code_3()
    {
        var ex = Assert.Throws<SmeltException>(() => SandboxFactory.Create("none"));
        Assert.Equal(ExitCodes.Infrastructure, ex.ExitCode);
        Assert.Contains("--allow-unsandboxed", ex.Message);
    }

    [Fact]
    public void Unknown_backend_names_the_choices_and_exits_3()
    {
        var ex = Assert.Throws<SmeltException>(() => SandboxFactory.Create("chroot"));
        Assert.Equal(ExitCodes.Infrastructure, ex.ExitCode);
        Assert.Contains("bwrap, firejail, docker, none", ex.Message);
    }

    [Fact]
    public void Docker_without_a_usable_engine_is_refused_with_a_hint()
    {
        // CI has no Docker engine (the CLI may or may not be installed): either way the factory must refuse, not hand out a backend whose every run fails.
        if (SandboxFactory.Find("docker") is { } cli && DockerSandbox.EngineProblem(cli) is null)
        {
            Assert.Equal("docker", SandboxFactory.Create("docker").Name); // an engine is reachable here
            return;
        }
        var ex = Assert.Throws<SmeltException>(() => SandboxFactory.Create("docker"));
        Assert.Equal(ExitCodes.Infrastructure, ex.ExitCode);
        Assert.Contains("docs.docker.com", ex.Message);
    }

    [Fact]
    public async Task None_warns_on_every_run()
    {
        var warnings = new StringWriter();
        var sandbox = SandboxFactory.Create("none", allowUnsandboxed: true, warnings);
        using var work = sandbox.CreateWorkDirectory("none");
        for (var i = 0; i < 2; i++)
        {
            var r = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/echo", "hi"], WorkDirectory = work.Path });
            Assert.True(r.Succeeded, r.Outcome);
            Assert.Equal("hi\n", r.Stdout);
        }
        Assert.Equal(2, warnings.ToString().Split('\n').Count(l => l.Contains("SANDBOX DISABLED")));
    }

    [SandboxFact("bwrap")]
    public void Auto_picks_a_real_backend_never_none()
    {
        var sandbox = SandboxFactory.Create("auto");
        Assert.NotEqual("none", sandbox.Name);
        Assert.Equal("bwrap", sandbox.Name);
    }
}
