"""A measure added the way the README's "Adding a measure" shows: this folder plus a registry line.

Mean brightness of each image: a per-frame number kept per frame ("cat"), so
the session's weights reach `compute` directly. Registered by the tests only.
"""
