"""BigCommerce: the API client, its pacing (ratelimit.py), its errors and values.

Import from the submodules; this package module imports nothing, so that the
retry policies can name the error classes without an import cycle.
"""
