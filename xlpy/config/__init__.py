"""xl config files: parsing (libxlutil's language) and building (xl.cfg(5) semantics)."""
