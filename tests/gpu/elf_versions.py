"""The glibc and libstdc++ symbol versions that the sysroot's ELF files need, and one edit of them
(tests/gpu/pack_sysroot.sh runs both on its staging folder).

  elf_versions.py weaken DIR    Debian 12's libevent (under Open MPI: mpirun, libmpi, every rank)
                                asks for glibc 2.36 for arc4random and arc4random_buf alone. A
                                device with glibc 2.35 (Ubuntu 22.04, PyTorch's images) would
                                refuse to load it, so wherever GLIBC_2.36 is needed for those two
                                symbols and nothing else, the need is marked weak (VER_FLG_WEAK:
                                the loader no longer requires the version) and tests/gpu/check.sh
                                provides the two functions there (arc4random.c, LD_PRELOAD).
  elf_versions.py requires DIR  prints "glibc X", "GLIBCXX Y" (the newest versions needed, weak
                                needs left out) and "arc4random 2.36" when a weakened need exists

Standard library only; 64-bit little-endian ELF (x86-64).
"""
import os
import struct
import sys

SHT_DYNSYM, SHT_VERNEED, SHT_VERSYM = 11, 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_WEAK = 0x2
FALLBACKS = {"arc4random", "arc4random_buf"}  # provided by tests/gpu/arc4random.c
FALLBACK_VERSION = "GLIBC_2.36"


def string(data, offset):
    return data[offset:data.index(b"\0", offset)].decode()


def sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize)
        out.append({"type": kind, "offset": offset, "size": size, "link": link, "entsize": entsize})
    return out


def version_needs(data, secs):
    """[(offset of vna_flags, flags, version name, version index)] of .gnu.version_r."""
    needs = []
    for sec in secs:
        if sec["type"] != SHT_VERNEED:
            continue
        strtab = secs[sec["link"]]["offset"]
        offset = sec["offset"]
        while True:
            _, count, _, aux, following = struct.unpack_from("<HHIII", data, offset)
            at = offset + aux
            for _ in range(count):
                _, flags, index, name, next_aux = struct.unpack_from("<IHHII", data, at)
                needs.append((at + 4, flags, string(data, strtab + name), index))
                at += next_aux
            if not following:
                break
            offset += following
    return needs


def symbols_of_version(data, secs, index):
    dynsym = next((s for s in secs if s["type"] == SHT_DYNSYM), None)
    versym = next((s for s in secs if s["type"] == SHT_VERSYM), None)
    if dynsym is None or versym is None:
        return set()
    strtab = secs[dynsym["link"]]["offset"]
    names = set()
    for i in range(dynsym["size"] // dynsym["entsize"]):
        ver, = struct.unpack_from("<H", data, versym["offset"] + 2 * i)
        if ver & 0x7FFF == index:
            name, = struct.unpack_from("<I", data, dynsym["offset"] + i * dynsym["entsize"])
            names.add(string(data, strtab + name))
    return names


def elf_files(root):
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        yield path


def weaken(root):
    for path in elf_files(root):
        data = bytearray(open(path, "rb").read())
        secs = sections(data)
        if not secs:
            continue
        for flags_at, flags, name, index in version_needs(data, secs):
            if name != FALLBACK_VERSION or flags & VER_FLG_WEAK:
                continue
            if symbols_of_version(data, secs, index) <= FALLBACKS:
                struct.pack_into("<H", data, flags_at, flags | VER_FLG_WEAK)
                open(path, "wb").write(data)
                print(f"elf_versions: {FALLBACK_VERSION} made weak in {os.path.relpath(path, root)}")


def requires(root):
    def key(version):
        return tuple(int(x) for x in version.split("."))
    newest = {"GLIBC": "0", "GLIBCXX": "0"}
    weakened = False
    for path in elf_files(root):
        data = open(path, "rb").read()
        secs = sections(data)
        for _, flags, name, _ in version_needs(data, secs) if secs else ():
            library, _, version = name.partition("_")
            if library not in newest or not version[:1].isdigit():
                continue
            if flags & VER_FLG_WEAK:
                weakened |= name == FALLBACK_VERSION
            elif key(version) > key(newest[library]):
                newest[library] = version
    print("glibc", newest["GLIBC"])
    print("GLIBCXX", newest["GLIBCXX"])
    if weakened:
        print("arc4random", FALLBACK_VERSION.partition("_")[2])


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("weaken", "requires"):
        raise SystemExit(__doc__)
    {"weaken": weaken, "requires": requires}[sys.argv[1]](sys.argv[2])
