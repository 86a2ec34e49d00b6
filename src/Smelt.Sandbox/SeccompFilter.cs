using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Smelt.Sandbox;

/// <summary>
/// Builds the classic-BPF seccomp program that bwrap loads (<c>--seccomp FD</c>) right before it execs the untrusted command.
/// Generated here rather than taken from a library so that every rule is visible and tested.
/// </summary>
/// <remarks>
/// Policy: any syscall from a foreign ABI (i386 via int 0x80, x32) kills the process; <c>socket</c> with a family other than
/// AF_UNIX fails with EAFNOSUPPORT; <c>clone</c> with namespace flags and the calls in <see cref="Denied"/> fail with EPERM;
/// <c>clone3</c> fails with ENOSYS (its flags live in memory a filter cannot read; glibc then falls back to <c>clone</c>);
/// everything else is allowed.
/// </remarks>
public static class SeccompFilter
{
    private const ushort LdAbsW = 0x20, JeqK = 0x15, JsetK = 0x45, RetK = 0x06;
    private const uint RetAllow = 0x7fff0000, RetKillProcess = 0x80000000, RetErrno = 0x00050000;
    private const uint EPERM = 1, ENOSYS = 38, EAFNOSUPPORT = 97;
    private const uint AF_UNIX = 1;
    private const uint X32Bit = 0x40000000;
    /// <summary>CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME.</summary>
    public const uint CloneNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

    public sealed record Syscall(string Name, uint X64, uint Arm64);

    /// <summary>Always EPERM. Numbers: x86_64 and aarch64 (asm-generic) tables.</summary>
    public static IReadOnlyList<Syscall> Denied { get; } =
    [
        new("ptrace", 101, 117), new("process_vm_readv", 310, 270), new("process_vm_writev", 311, 271),
        new("mount", 165, 40), new("umount2", 166, 39), new("pivot_root", 155, 41), new("chroot", 161, 51),
        new("open_tree", 428, 428), new("move_mount", 429, 429), new("fsopen", 430, 430), new("fsconfig", 431, 431),
        new("fsmount", 432, 432), new("fspick", 433, 433), new("mount_setattr", 442, 442),
        new("unshare", 272, 97), new("setns", 308, 268),
        new("keyctl", 250, 219), new("add_key", 248, 217), new("request_key", 249, 218),
        new("bpf", 321, 280), new("perf_event_open", 298, 241), new("userfaultfd", 323, 282),
        new("io_uring_setup", 425, 425), new("io_uring_enter", 426, 426), new("io_uring_register", 427, 427),
        new("kexec_load", 246, 104), new("kexec_file_load", 320, 294), new("init_module", 175, 105),
        new("finit_module", 313, 273), new("delete_module", 176, 106), new("reboot", 169, 142),
        new("swapon", 167, 224), new("swapoff", 168, 225), new("acct", 163, 89),
        new("open_by_handle_at", 304, 265), new("name_to_handle_at", 303, 264),
        new("settimeofday", 164, 170), new("clock_settime", 227, 112), new("adjtimex", 159, 171),
        new("syslog", 103, 116), new("fanotify_init", 300, 262), new("quotactl", 179, 60),
        new("personality", 135, 92),
    ];

    private static readonly (uint Arch, Func<Syscall, uint> Number, uint Socket, uint Clone, uint Clone3)[] Arches =
    [
        (0xC000003E, s => s.X64, 41, 56, 435),   // AUDIT_ARCH_X86_64
        (0xC00000B7, s => s.Arm64, 198, 220, 435), // AUDIT_ARCH_AARCH64
    ];

    /// <summary>The program for this process's architecture, as the raw <c>struct sock_filter[]</c> bytes bwrap reads.</summary>
    public static byte[] Build() => Build(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 1 : 0);

    internal static byte[] Build(int archIndex)
    {
        var (arch, number, socket, clone, clone3) = Arches[archIndex];
        var p = new List<(ushort Code, byte Jt, byte Jf, uint K)>();
        // seccomp_data: int nr @0, u32 arch @4, u64 ip @8, u64 args[6] @16 (little-endian: low word first)
        p.Add((LdAbsW, 0, 0, 4));
        p.Add((JeqK, 1, 0, arch));
        p.Add((RetK, 0, 0, RetKillProcess));
        p.Add((LdAbsW, 0, 0, 0));
        if (archIndex == 0)
        {
            p.Add((JsetK, 0, 1, X32Bit));
            p.Add((RetK, 0, 0, RetKillProcess));
        }
        foreach (var s in Denied)
        {
            p.Add((JeqK, 0, 1, number(s)));
            p.Add((RetK, 0, 0, RetErrno | EPERM));
        }
        p.Add((JeqK, 0, 1, clone3));
        p.Add((RetK, 0, 0, RetErrno | ENOSYS));
        // socket(family, ...): only AF_UNIX
        p.Add((JeqK, 0, 4, socket));
        p.Add((LdAbsW, 0, 0, 16));
        p.Add((JeqK, 1, 0, AF_UNIX));
        p.Add((RetK, 0, 0, RetErrno | EAFNOSUPPORT));
        p.Add((RetK, 0, 0, RetAllow));
        // clone(flags, ...): no new namespaces (x86_64 and aarch64 both pass flags first)
        p.Add((JeqK, 0, 3, clone));
        p.Add((LdAbsW, 0, 0, 16));
        p.Add((JsetK, 0, 1, CloneNamespaceFlags));
        p.Add((RetK, 0, 0, RetErrno | EPERM));
        p.Add((RetK, 0, 0, RetAllow));

        var bytes = new byte[p.Count * 8];
        for (var i = 0; i < p.Count; i++)
        {
            var span = bytes.AsSpan(i * 8, 8);
            BinaryPrimitives.WriteUInt16LittleEndian(span, p[i].Code);
            span[2] = p[i].Jt;
            span[3] = p[i].Jf;
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], p[i].K);
        }
        return bytes;
    }

    private static readonly Lazy<string> CachedFile = new(() =>
    {
        var dir = SandboxPaths.PrivateRoot;
        var bytes = Build();
        // Named by content: every Smelt process on this machine shares the same file instead of leaving one each.
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
        var path = Path.Combine(dir, $"seccomp-{hash}.bpf");
        if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            Smelt.Core.AtomicFile.WriteAllBytes(path, bytes);
        return path;
    });

    /// <summary>The program written once per process to a private file the launcher opens as bwrap's <c>--seccomp</c> fd.</summary>
    internal static string FilePath => CachedFile.Value;
}
