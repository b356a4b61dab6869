"""Domain types in the shape of libxl's IDL (libxl_domain_config and friends)."""
