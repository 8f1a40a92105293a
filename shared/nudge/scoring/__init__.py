"""Customer scoring: RFM, value tiers, BG/NBD and Gamma-Gamma lifetime models.

This sub-package is the only part of nudge that uses numpy and scipy; they come from the scoring
function's own layer (``layers/scoring``) and are never imported on the event path. Importing
``nudge.scoring`` itself imports nothing heavy: import the module you need
(``nudge.scoring.bgnbd``, ``.gammagamma``, ``.pltv``, ``.rfm``, ``.tiers``, ``.fit_cli``).
``nudge.scoring.daily`` (the daily recompute's per-profile row maths) is pure Python too.
``nudge.scoring.tiers.tier_for`` is pure Python and safe for the event path.
"""
