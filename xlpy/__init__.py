"""xlpy: an xl-compatible Xen toolstack in Python.

Importing the package is cheap on purpose: each submodule (config, domain,
toolstack, backends, cli) is imported only by the command that needs it.
"""

__version__ = "0.1.0"
