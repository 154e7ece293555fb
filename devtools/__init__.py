"""What the tests and the benchmarks share to run real components: a throwaway PostgreSQL
cluster (``postgres``) and a server's worker processes (``processes``). Not part of the
service: nothing in the packages imports it."""
