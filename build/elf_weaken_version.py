#!/usr/bin/env python3
"""Marks chosen symbol-version requirements of an ELF64 shared library weak (VER_FLG_WEAK).

Why: libLibTorchSharp.so (TorchSharp 0.107.0) lists GLIBCXX_3.4.32 among the versions it needs from
libstdc++.so.6, for a single symbol (std::ios_base_library_init) that it references but never calls.
Debian 12 ships libstdc++ up to GLIBCXX_3.4.30, so the dynamic loader refuses the whole library.
A requirement flagged VER_FLG_WEAK in .gnu.version_r is reported by the loader only as a warning
(visible with LD_DEBUG=versions) and loading proceeds.

Usage: elf_weaken_version.py [--check] FILE VERSION [VERSION...]
  Patches FILE in place (idempotent: an already-weak entry is left as is).
  --check: change nothing; exit 0 if every VERSION is present and weak, 1 otherwise.
Exit codes: 0 done/ok, 1 check failed, 2 bad input (not ELF64 little-endian, no .gnu.version_r, version absent).
Only the Python standard library is used.
"""
import os
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def fail(msg):
    print(f"elf_weaken_version: {msg}", file=sys.stderr)
    sys.exit(2)


def read_cstr(data, off):
    end = data.index(b"\0", off)
    return data[off:end].decode("ascii", "replace")


def vernaux_entries(data, path):
    """Yields (file_name, version_name, flags_offset, flags) for every Vernaux entry."""
    if data[:4] != b"\x7fELF":
        fail(f"{path}: not an ELF file")
    if data[4] != 2 or data[5] != 1:
        fail(f"{path}: only 64-bit little-endian ELF is supported")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    if e_shoff == 0 or e_shentsize != 64 or e_shoff + e_shnum * 64 > len(data):
        fail(f"{path}: section header table missing or out of range")
    sections = []
    for i in range(e_shnum):
        base = e_shoff + i * 64
        sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info = struct.unpack_from("<IIQQQQII", data, base)
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))
    verneed = [s for s in sections if s[0] == SHT_GNU_VERNEED]
    if not verneed:
        fail(f"{path}: no .gnu.version_r section")
    _, off, size, link, count = verneed[0]
    if link >= len(sections):
        fail(f"{path}: .gnu.version_r links to a missing string table")
    strtab = sections[link][1]
    pos = off
    for _ in range(count):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, pos)
        file_name = read_cstr(data, strtab + vn_file)
        aux = pos + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
            yield file_name, read_cstr(data, strtab + vna_name), aux + 4, vna_flags
            if vna_next == 0:
                break
            aux += vna_next
        if vn_next == 0:
            break
        pos += vn_next
    if pos > off + size:
        fail(f"{path}: .gnu.version_r entries run past the section")


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, wanted = args[0], set(args[1:])
    try:
        with open(path, "rb") as fh:
            data = bytearray(fh.read())
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    found, changed = {}, []
    for file_name, name, flags_off, flags in list(vernaux_entries(data, path)):
        if name in wanted:
            found[name] = flags
            if not flags & VER_FLG_WEAK:
                struct.pack_into("<H", data, flags_off, flags | VER_FLG_WEAK)
                changed.append(f"{name} (from {file_name})")
    missing = sorted(wanted - found.keys())
    if missing:
        fail(f"{path}: no version requirement named {', '.join(missing)}")
    if check:
        weak = all(f & VER_FLG_WEAK for f in found.values())
        print(f"{path}: {'weak' if weak else 'NOT weak'}: {', '.join(sorted(wanted))}")
        return 0 if weak else 1
    if changed:
        tmp = f"{path}.weaken.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, os.stat(path).st_mode)
        os.replace(tmp, path)
        print(f"{path}: marked weak: {', '.join(changed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
