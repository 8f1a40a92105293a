"""Customer scoring: RFM, BG/NBD and Gamma-Gamma lifetime models (value tiers are
``nudge.core.profile.value_tier``: pure Python, computed wherever a profile is viewed).

This sub-package is the only part of nudge that uses numpy and scipy; they come from the scoring
function's own layer (``layers/scoring``) and are never imported on the event path. Importing
``nudge.scoring`` itself imports nothing heavy: import the module you need
(``nudge.scoring.bgnbd``, ``.gammagamma``, ``.pltv``, ``.rfm``, ``.fit_cli``).
``nudge.scoring.daily`` (the daily recompute's per-profile row maths) is pure Python too.
"""
