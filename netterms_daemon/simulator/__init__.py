"""A simulated BigCommerce store: for tests, the demo, and trying netterms out.

Nothing in the daemon reaches it except through configuration
(`bigcommerce.api_url`); it is started only on purpose, by `netterms
simulator`, the demo or a test.
"""
