"""Use cases: one function each; every shell (HTTP, pages, CLI, scheduler) calls these."""
