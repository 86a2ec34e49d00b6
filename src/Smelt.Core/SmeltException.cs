namespace Smelt.Core;

/// <summary>Process exit codes shared by every <c>smelt</c> command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran but found a problem it reports (e.g. a failed self-check item).</summary>
    public const int Failure = 1;
    /// <summary>Unusable input: bad flags, missing files, malformed configs.</summary>
    public const int BadInput = 2;
    /// <summary>Sandbox or other infrastructure failure: results would not be trustworthy.</summary>
    public const int Infrastructure = 3;
}

/// <summary>
/// An error meant for the user: the message says what is wrong (file, line, key) and what to do.
/// The CLI prints <see cref="Exception.Message"/> (redacted) and exits with <see cref="ExitCode"/>.
/// </summary>
public class SmeltException : Exception
{
    public int ExitCode { get; }

    public SmeltException(string message, int exitCode = ExitCodes.BadInput, Exception? inner = null)
        : base(message, inner) => ExitCode = exitCode;

    public static SmeltException BadInput(string message) => new(message, ExitCodes.BadInput);
    public static SmeltException Infrastructure(string message, Exception? inner = null) => new(message, ExitCodes.Infrastructure, inner);
}
