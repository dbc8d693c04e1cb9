"""Tests of the simulators' command line; each simulator is tested beside its vendor."""
