"""Search spaces: how raw encodings become canonical architectures.

Each space module exposes pure functions on plain data; `wsdb.spaces.registry` ties them
together behind one interface (`canonicalize`), so the database code never needs to know
which space it is storing.
"""
