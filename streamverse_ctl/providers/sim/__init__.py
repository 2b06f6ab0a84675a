"""The sim platform: a local, honest simulator of StreamVerse in one SQLite file.

It is not a cloud: it stores what the tool writes, models region health, load and CDN hit
ratios well enough for demos, tests and game-day rehearsals, and lets you inject faults and
out-of-band changes (``streamverse ctl sim ...``).
"""
