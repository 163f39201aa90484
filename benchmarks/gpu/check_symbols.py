"""Checks whether TorchSharp's libLibTorchSharp.so can bind to the libtorch found on this machine.

Lists the undefined dynamic symbols of libLibTorchSharp.so and looks each up among the symbols defined by the
libraries in a libtorch folder (PyTorch's torch/lib) and the system libraries it also needs. Weak references need no
definition and are not counted. Prints a summary line "SYMBOLS total=N resolved=R missing=M" and the missing ones (demangled when c++filt exists).

Usage: python3 check_symbols.py LIBLIBTORCHSHARP TORCH_LIB_DIR [--max 50]
"""
import glob
import os
import shutil
import subprocess
import sys


def dynamic_symbols(path, defined):
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-D", flag, path], capture_output=True, text=True)
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        name = parts[-1]
        kind = parts[-2] if len(parts) >= 2 else "U"
        if defined and kind in ("U", "w", "v"):
            continue
        if not defined and kind in ("w", "v"):
            continue  # weak references need no definition
        names.add(name.split("@")[0])
    return names


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    lib, torch_lib = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[sys.argv.index("--max") + 1]) if "--max" in sys.argv else 50
    if shutil.which("nm") is None:
        print("SYMBOLS nm not found: cannot check")
        return 0
    needed = dynamic_symbols(lib, defined=False)
    provided = set()
    providers = sorted(glob.glob(os.path.join(torch_lib, "*.so*")))
    for system in ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "libgomp.so.1", "ld-linux-x86-64.so.2"):
        for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"):
            p = os.path.join(d, system)
            if os.path.exists(p):
                providers.append(p)
                break
    for p in providers:
        provided |= dynamic_symbols(p, defined=True)
    # Referenced by no relocation (see docs/torchsharp-on-linux.md): a newer libstdc++ defines it, an older one need not.
    benign = {"_ZSt21ios_base_library_initv"}
    missing = sorted(n for n in needed if n not in provided and n not in benign)
    print(f"SYMBOLS total={len(needed)} resolved={len(needed) - len(missing)} missing={len(missing)} providers={len(providers)}")
    if missing:
        shown = missing[:limit]
        demangled = shown
        if shutil.which("c++filt"):
            demangled = subprocess.run(["c++filt"], input="\n".join(shown), capture_output=True, text=True).stdout.splitlines()
        for raw, pretty in zip(shown, demangled):
            print(f"MISSING {pretty}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
