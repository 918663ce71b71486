"""Planned queries: the happy path of a query run without graphql-core's per-field machinery.

The ward dashboard resolves about 1,100 fields; through the general executor each costs a few
microseconds of bookkeeping (info objects, awaitable checks, path tracking) that dwarf the work
of reading an attribute. A plan, compiled once per document, calls the same resolvers with the
same context (so the same authorisation, DataLoaders, SQL and audit events) and serialises with
the same scalars, and hands over to the general executor the moment anything unusual happens.
"""

from wardgraph.pipeline.planned.extension import PlannedQueries

__all__ = ["PlannedQueries"]
