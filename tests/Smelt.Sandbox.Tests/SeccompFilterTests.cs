using System.Buffers.Binary;

namespace Smelt.Sandbox.Tests;

/// <summary>Runs the generated classic-BPF program in a small interpreter on synthetic seccomp_data (the kernel test is the self-check).</summary>
public sealed class SeccompFilterTests
{
    private const uint Allow = 0x7fff0000, Kill = 0x80000000;
    private static uint Errno(uint e) => 0x00050000 | e;
    private const uint X64 = 0xC000003E, I386 = 0x40000003;

    private static uint Run(byte[] program, uint nr, uint arch = X64, ulong arg0 = 0)
    {
        var data = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16), arg0);
        uint acc = 0;
        var pc = 0;
        var n = program.Length / 8;
        for (var steps = 0; steps < 10_000; steps++)
        {
            Assert.InRange(pc, 0, n - 1);
            var insn = program.AsSpan(pc * 8, 8);
            var code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
            var jt = insn[2];
            var jf = insn[3];
            var k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
            switch (code)
            {
                case 0x20: Assert.True(k % 4 == 0 && k < 64); acc = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)k)); pc++; break;
                case 0x15: pc += 1 + (acc == k ? jt : jf); break;
                case 0x45: pc += 1 + ((acc & k) != 0 ? jt : jf); break;
                case 0x06: return k;
                default: Assert.Fail($"unexpected opcode 0x{code:x} at {pc}"); break;
            }
        }
        Assert.Fail("program did not terminate");
        return 0;
    }

    [Fact]
    public void Only_unix_sockets_are_allowed()
    {
        var p = SeccompFilter.Build(0);
        Assert.Equal(Errno(97), Run(p, 41, arg0: 2));  // AF_INET
        Assert.Equal(Errno(97), Run(p, 41, arg0: 10)); // AF_INET6
        Assert.Equal(Errno(97), Run(p, 41, arg0: 16)); // AF_NETLINK
        Assert.Equal(Errno(97), Run(p, 41, arg0: 17)); // AF_PACKET
        Assert.Equal(Allow, Run(p, 41, arg0: 1));      // AF_UNIX
    }

    [Fact]
    public void Dangerous_calls_fail_with_eperm_and_ordinary_ones_pass()
    {
        var p = SeccompFilter.Build(0);
        foreach (var (name, nr) in new[] { ("ptrace", 101u), ("mount", 165u), ("keyctl", 250u), ("bpf", 321u), ("perf_event_open", 298u), ("unshare", 272u), ("setns", 308u), ("io_uring_setup", 425u) })
            Assert.True(Run(p, nr) == Errno(1), name);
        foreach (var nr in new uint[] { 0, 1, 2, 3, 9, 59, 60, 231, 257 }) // read write open close mmap execve exit exit_group openat
            Assert.Equal(Allow, Run(p, nr));
        Assert.Equal(Errno(38), Run(p, 435)); // clone3 -> ENOSYS so libc falls back to clone
    }

    [Fact]
    public void Clone_may_not_create_namespaces()
    {
        var p = SeccompFilter.Build(0);
        Assert.Equal(Allow, Run(p, 56, arg0: 0x01200011));            // fork-like clone (SIGCHLD|CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID)
        Assert.Equal(Allow, Run(p, 56, arg0: 0x003d0f00));            // pthread_create flags
        Assert.Equal(Errno(1), Run(p, 56, arg0: 0x10000000 | 0x11)); // CLONE_NEWUSER
        Assert.Equal(Errno(1), Run(p, 56, arg0: 0x40000000 | 0x11)); // CLONE_NEWNET
    }

    [Fact]
    public void Foreign_abis_are_killed()
    {
        var p = SeccompFilter.Build(0);
        Assert.Equal(Kill, Run(p, 1, arch: I386));
        Assert.Equal(Kill, Run(p, 0x40000000 | 41)); // x32 socket
    }

    [Fact]
    public void Aarch64_program_uses_its_own_numbers()
    {
        var p = SeccompFilter.Build(1);
        const uint aarch64 = 0xC00000B7;
        Assert.Equal(Errno(97), Run(p, 198, aarch64, 2));
        Assert.Equal(Allow, Run(p, 198, aarch64, 1));
        Assert.Equal(Errno(1), Run(p, 117, aarch64)); // ptrace
        Assert.Equal(Kill, Run(p, 117, X64));
    }
}
