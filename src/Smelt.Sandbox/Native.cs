using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Smelt.Sandbox;

/// <summary>The few libc calls .NET does not expose. Linux only (the sandbox backends are Linux-only anyway).</summary>
internal static partial class Native
{
    public const int SIGKILL = 9;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    public static bool IsRoot => geteuid() == 0;

    public static uint EffectiveUid => geteuid();

    /// <summary>SIGKILL to a pid; false when it is already gone.</summary>
    public static bool Kill(int pid) => kill(pid, SIGKILL) == 0;

    /// <summary>Opens a file read-only without following a final symlink and without blocking on FIFOs; null on failure.</summary>
    public static SafeFileHandle? OpenReadNoFollow(string path)
    {
        var arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
        var noFollow = arm ? 0x8000 : 0x20000;
        const int nonBlock = 0x800, cloExec = 0x80000;
        var fd = open(path, noFollow | nonBlock | cloExec);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }
}
