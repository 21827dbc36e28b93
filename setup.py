"""Builds wts._wts from src/_wts.pyx and the C seam.  Everything else lives in pyproject.toml."""

import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

windows = sys.platform == "win32"
extension = Extension(
    "wts._wts",
    sources=["src/_wts.pyx", "src/wtsapi/wts_sim.c", "src/wtsapi/wts_win32.c"],
    include_dirs=["src"],
    depends=["src/include/wtsdecl.pxd", "src/wtsapi/wts_seam.h", "src/wtsapi/wts_platform.h",
             "src/wtsapi/wts_sim.h"],
    # On Windows the win32 provider links the system's wtsapi32; the sim is compiled everywhere.
    libraries=["wtsapi32"] if windows else [],
    extra_compile_args=["/std:c11"] if windows and "GCC" not in sys.version else [],
)

setup(
    ext_modules=cythonize(
        [extension],
        include_path=["src/include"],
        compiler_directives={"language_level": 3, "embedsignature": True},
    )
)
