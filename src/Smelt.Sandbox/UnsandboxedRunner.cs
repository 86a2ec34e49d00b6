namespace Smelt.Sandbox;

/// <summary>
/// <c>none</c>: runs the program directly on the host, for development only. It still gets the allow-listed environment,
/// the rlimits, the cgroup limits where available, the output cap and the timeout, but nothing is isolated: it can read
/// every file the user can and use the network. Every run writes a warning to stderr.
/// </summary>
public sealed class UnsandboxedRunner : ISandbox
{
    private readonly TextWriter _warnings;

    public UnsandboxedRunner(TextWriter? warnings = null) => _warnings = warnings ?? Console.Error;

    public string Name => "none";

    public const string Warning =
        "warning: SANDBOX DISABLED (--sandbox none): untrusted code is running directly on this machine with your files and network";

    public SandboxWorkDirectory CreateWorkDirectory(string label) =>
        new(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, label));

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        lock (_warnings) _warnings.WriteLine(Warning);
        IReadOnlyDictionary<string, string> env;
        try
        {
            RequestValidation.Validate(request);
            env = SandboxPaths.BuildEnvironment(request.Environment);
        }
        catch (SandboxSetupException ex)
        {
            return Task.FromResult(new SandboxResult { InfrastructureError = ex.Message });
        }
        return ProcessRunner.RunAsync(new LaunchSpec
        {
            Argv = request.Command,
            LauncherEnvironment = env,
            HostWorkDirectory = request.WorkDirectory,
            Limits = request.Limits,
            Stdin = request.Stdin,
        }, cancellationToken);
    }
}
