"""The FHIR R4 face, mounted at /fhir beside GraphQL: Patient, Encounter and vital-sign
Observations (with the NEWS2 total) read and recorded through the same authentication, claimed
transaction, RLS policies, resolvers, audit trail and rate limits as GraphQL.

routes (the interactions), exchange (one request's steps), resources (rows as resources),
recordings (incoming Observations as a recording), search, bundles, outcomes (errors),
scopes (SMART scopes as partner scopes), capability (/fhir/metadata), codes (their sources).
"""
