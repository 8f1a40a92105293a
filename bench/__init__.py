"""`make bench`: measured numbers for the targets in ARCHITECTURE.md (never asserted in tests)."""
