"""Lark grammars shipped with xlpy (installed as the package ``xlpy.grammars``)."""
