"""Builds wts._wts from src/_wts.pyx and the C seam.  Everything else lives in pyproject.toml."""

import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

windows = sys.platform == "win32"
extension = Extension(
    "wts._wts",
    # Every C file of the seam goes in: one source of truth, shared with the cross build in .ci/wine.
    sources=["src/_wts.pyx", *sorted(glob("src/wtsapi/*.c"))],
    include_dirs=["src"],
    depends=[*sorted(glob("src/include/*.pxd")), *sorted(glob("src/wtsapi/*.h")), *sorted(glob("src/*.pxi"))],
    # On Windows the win32 provider links the system's wtsapi32; the sim is compiled everywhere.
    libraries=["wtsapi32", "advapi32"] if windows else [],
    extra_compile_args=["/std:c11"] if windows and "GCC" not in sys.version else [],
)

setup(
    ext_modules=cythonize(
        [extension],
        include_path=["src/include"],
        compiler_directives={"language_level": 3, "embedsignature": True},
    )
)
