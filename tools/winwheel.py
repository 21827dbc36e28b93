"""Pack a Windows wheel of wts from the wheel setuptools built here and a cross-compiled wts._wts.

The Wine check (.ci/wine, docs/building.md) cross-compiles wts._wts for win_amd64 with mingw-w64.  This
turns that .pyd into a real wheel: every file of the base wheel (the Python package, py.typed, the
.pyi, and the .dist-info metadata setuptools wrote) except its compiled module, plus the .pyd under
Windows' extension name, with WHEEL carrying the Windows tag and RECORD rewritten with the sha256 and
size of every file.  Then it reads the result back and checks it as an installer would.

Standard library only::

    python tools/winwheel.py dist/wts-0.1.0-cp311-cp311-linux_x86_64.whl build/wine/_wts.pyd \\
        --tag cp311-cp311-win_amd64 -o build/wine/dist
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

__all__ = ["pack", "verify"]

_WHEEL_NAME = re.compile(r"^(?P<dist>[^-]+)-(?P<version>[^-]+)-(?P<tag>[^-]+-[^-]+-[^-]+)\.whl$")


class WheelError(ValueError):
    """A wheel that cannot be used, or that fails the check; str() is one line."""


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _parse_name(path: Path) -> tuple[str, str, str]:
    m = _WHEEL_NAME.match(path.name)
    if m is None:
        raise WheelError(f"{path.name}: not a wheel file name (dist-version-python-abi-platform.whl)")
    return m["dist"], m["version"], m["tag"]


def pack(base: Path, extension: Path, tag: str, outdir: Path) -> Path:
    """Write ``<dist>-<version>-<tag>.whl`` into outdir and return its path."""
    dist, version, _ = _parse_name(base)
    python, _abi, platform = tag.split("-")
    if not extension.is_file():
        raise WheelError(f"{extension}: no such file")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {}
    dates: dict[str, tuple[int, int, int, int, int, int]] = {}
    compiled: list[str] = []
    with zipfile.ZipFile(base) as zin:
        for item in zin.infolist():
            if item.is_dir() or item.filename in (f"{info}/RECORD", f"{info}/WHEEL"):
                continue
            if item.filename.endswith((".so", ".pyd")):  # e.g. wts/_wts.cpython-311-x86_64-linux-gnu.so
                compiled.append(item.filename)
                continue
            files[item.filename] = zin.read(item)
            dates[item.filename] = item.date_time
        base_wheel = zin.read(f"{info}/WHEEL").decode("utf-8")
    if len(compiled) != 1:
        raise WheelError(f"{base.name}: expected one compiled module, found {len(compiled) or 'none'}: {compiled}")
    folder, _, filename = compiled[0].rpartition("/")
    module = f"{folder}/{filename.split('.')[0]}" if folder else filename.split(".")[0]
    files[f"{module}.{python}-{platform}.pyd"] = extension.read_bytes()  # Windows' EXT_SUFFIX

    # WHEEL: the base's fields, with this wheel's tag and generator.
    lines = [line for line in base_wheel.splitlines() if line and not line.startswith(("Tag:", "Generator:"))]
    lines = [("Root-Is-Purelib: false" if line.startswith("Root-Is-Purelib:") else line) for line in lines]
    lines.insert(1, "Generator: wts tools/winwheel.py")
    lines.append(f"Tag: {tag}")
    files[f"{info}/WHEEL"] = ("\n".join(lines) + "\n").encode("utf-8")

    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        writer.writerow([name, _digest(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode("utf-8")

    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / f"{dist}-{version}-{tag}.whl"
    stamp = max(dates.values(), default=(1980, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        # .dist-info last, RECORD at the very end, as installers expect.
        for name in sorted(files, key=lambda n: (n.startswith(info), n == f"{info}/RECORD", n)):
            entry = zipfile.ZipInfo(name, dates.get(name, stamp))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(entry, files[name])
    verify(out)
    return out


def verify(wheel: Path) -> None:
    """Check a wheel as an installer reads it: the tag in WHEEL matches the file name, RECORD lists
    every file exactly once with its sha256 and size, and nothing else."""
    dist, version, tag = _parse_name(wheel)
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(wheel) as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        if len(names) != len(set(names)):
            raise WheelError(f"{wheel.name}: duplicate entries")
        try:
            meta = z.read(f"{info}/WHEEL").decode("utf-8")
            rows = list(csv.reader(io.StringIO(z.read(f"{info}/RECORD").decode("utf-8"))))
            z.read(f"{info}/METADATA")
        except KeyError as e:
            raise WheelError(f"{wheel.name}: missing {e.args[0]}") from None
        tags = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Tag:")]
        if tags != [tag]:
            raise WheelError(f"{wheel.name}: WHEEL has tags {tags}, the file name says {tag}")
        if "Root-Is-Purelib: false" not in meta.splitlines():
            raise WheelError(f"{wheel.name}: a wheel with a compiled module must say Root-Is-Purelib: false")
        recorded = {}
        for row in rows:
            if len(row) != 3:
                raise WheelError(f"{wheel.name}: RECORD row {row!r} does not have 3 fields")
            recorded[row[0]] = row
        if sorted(recorded) != sorted(names) or len(recorded) != len(rows):
            raise WheelError(f"{wheel.name}: RECORD and the archive list different files")
        for name in names:
            _, digest, size = recorded[name]
            if name == f"{info}/RECORD":
                continue
            data = z.read(name)
            if digest != _digest(data) or size != str(len(data)):
                raise WheelError(f"{wheel.name}: {name} does not match its RECORD entry")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="the wheel setuptools built (its files and metadata are reused)")
    parser.add_argument("extension", type=Path, help="the cross-compiled wts._wts (.pyd)")
    parser.add_argument("--tag", required=True, help="the new wheel's tag, e.g. cp311-cp311-win_amd64")
    parser.add_argument("-o", "--outdir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        print(pack(args.base, args.extension, args.tag, args.outdir))
    except (WheelError, OSError, zipfile.BadZipFile) as e:
        print(f"winwheel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
