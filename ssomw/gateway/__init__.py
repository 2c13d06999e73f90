"""The per-process runtime: what one gateway process holds, and its upkeep threads.

Built from a validated config by the composition root (``ssomw.wsgi``); nothing
below the views imports from here."""
