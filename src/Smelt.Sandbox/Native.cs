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

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, long* buffer);

    public const ulong MS_NOSUID = 2, MS_NODEV = 4, MS_REMOUNT = 32, MS_BIND = 4096, MS_PRIVATE = 1 << 18, MS_SHARED = 1 << 20;
    private const int MNT_DETACH = 2, UMOUNT_NOFOLLOW = 8;
    public const long TmpfsMagic = 0x01021994;

    /// <summary>mount(2); null on success, else the error.</summary>
    public static string? Mount(string? source, string target, string? fstype, ulong flags, string? data) =>
        mount(source, target, fstype, flags, data) == 0 ? null : Marshal.GetLastPInvokeErrorMessage();

    /// <summary>Lazy unmount (MNT_DETACH): the mount leaves the tree now, its memory goes when the last user lets go.</summary>
    public static void Unmount(string target) => umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);

    public readonly record struct FsStats(long Type, long BlockSize, long Blocks, long FreeBlocks, long Files, long FreeFiles);

    /// <summary>statfs(2) of the file system holding <paramref name="path"/> (64-bit layout: all fields are words); null on failure.</summary>
    public static unsafe FsStats? StatFs(string path)
    {
        var b = stackalloc long[16];
        if (statfs(path, b) != 0) return null;
        return new FsStats(Type: b[0], BlockSize: b[1], Blocks: b[2], FreeBlocks: b[3], Files: b[5], FreeFiles: b[6]);
    }

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
