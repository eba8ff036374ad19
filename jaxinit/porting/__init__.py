"""Automatic ports: any torch model becomes a native jaxinit model.

* :func:`convert` -- ``net, variables = convert(torch_module, *example_args)``;
* :func:`to_source` -- the same model as one readable jaxinit module file;
* :class:`PortError` -- everything that cannot be converted, listed at once;
* :mod:`jaxinit.porting.ops` -- torch's tensor functions with torch's semantics, which the
  generated code calls; :mod:`jaxinit.porting.table` -- what converts to what;
  :mod:`jaxinit.porting.aten` -- the same for forwards captured by ``torch.export``.

torch is imported only inside these functions. How it works: docs/porting.md.
"""

from __future__ import annotations

from .api import convert, load_torch_weights, to_source
from .errors import PortError, Problem

__all__ = ["PortError", "Problem", "convert", "load_torch_weights", "to_source"]
