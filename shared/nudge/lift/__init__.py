"""``nudge report lift``: what each trigger and campaign added, treated vs control, with honest
intervals (docs/lift.md). CLI-side only: ``measure`` imports numpy and scipy, never on the event
path (an import-linter contract keeps the handlers from reaching this package); ``facts`` is
light, for the simulator's output file."""
