"""`python -m coverage_tracker`: the same as the `coverage-tracker` command."""

from coverage_tracker.cli import main

main()
