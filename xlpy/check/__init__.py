"""`xlpy check`: lint xl domain configs for CI.

check_files() returns Diagnostics for every file (syntax as libxlutil would
reject it, xl.cfg rules from the builder, PVH rules, device specs, hygiene,
and rules across the whole set of files); renderers in formats.py turn them
into text, JSON, GitHub annotations or SARIF.
"""
