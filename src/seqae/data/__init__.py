"""The former name of :mod:`seqae.preprocessing`, kept so that code written for it keeps working.

``seqae.data.<module>`` is the very module ``seqae.preprocessing.<module>`` (not a copy), so that a name patched
or compared through either path is the same object; ``seqae.data.series`` is
:mod:`seqae.preprocessing.series_validation`. New code imports :mod:`seqae.preprocessing`.
"""
import sys

from seqae.preprocessing import *  # noqa: F403
from seqae.preprocessing import __all__  # noqa: F401
from seqae.preprocessing import batching, scaling, series_validation, validation, windows

# The old submodule names, registered so that `import seqae.data.windows` finds the moved module.
series = series_validation
for _name, _module in (("batching", batching), ("scaling", scaling), ("series", series), ("validation", validation),
                       ("windows", windows)):
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module
