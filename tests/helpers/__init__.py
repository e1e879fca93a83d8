"""Helpers the conftests and test modules share: each lives here once and is imported where it
is used (fixtures stay in the conftests)."""
