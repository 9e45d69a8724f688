"""The test suite as a package, so helpers are imported by their full name (tests.helpers....)."""
