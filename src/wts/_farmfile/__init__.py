"""Farm-file compiler for the simulated RD Session Host farm.

The C simulator deliberately knows nothing about JSON: it loads a farm from
a small line-based text format ("compiled farm") that is trivial to parse in
C.  All the user-facing work -- reading the JSON farm file, validating it
with precise error messages, expanding ``generate`` blocks into thousands of
realistic sessions -- happens here, in Python, where it is cheap to do well.

The reverse direction, :func:`parse_compiled`, turns compiled text (for
example a state dump taken from the running simulator) back into a JSON-able
farm dict, so a farm can be inspected, edited and loaded again.

The format is documented in ``docs/sim.md``.  This package needs no compiled
extension itself and imports only the standard library and :mod:`wts._types`
(pure Python); it is reached through ``wts`` (whose ``__init__`` does load the
extension), and lazily: ``wts.sim`` imports it on first use, so ``import wts``
does not pay for ``json``, ``ipaddress`` and ``dataclasses`` here.

Layout, one job per module (each imports only the ones above it):

- ``_constants``: the numbers and spellings shared with the C simulator and the SDK
- ``_errors``:    :class:`FarmFileError`, and the internal failures that become it
- ``_times``:     FILETIME ticks to and from ISO-8601 text
- ``_values``:    reading one JSON value: type, range, and the precise error message
- ``_compiled``:  the compiled line format, both ways (writing helpers, :func:`parse_compiled`)
- ``_generate``:  ``generate`` blocks: validating one, expanding them (the hot path)
- ``_jsonfile``:  reading a farm file from disk into JSON data
- ``_compiler``:  :func:`compile_farm`: the whole farm, and the checks that span values

Names without a leading underscore in those modules are shared within this
package (listed in each ``__all__``); only the four names below are its API.
"""

from __future__ import annotations

from ._compiled import parse_compiled
from ._compiler import CompiledFarm, compile_farm
from ._errors import FarmFileError

__all__ = ["CompiledFarm", "FarmFileError", "compile_farm", "parse_compiled"]

# Keep the public path in reprs, tracebacks and pickles, as before the split: wts._farmfile.FarmFileError.
CompiledFarm.__module__ = __name__
FarmFileError.__module__ = __name__
