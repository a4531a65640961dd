"""Turning recorded runs into conclusions: statistics (:mod:`.stats`), plots (:mod:`.plots`) and
self-contained HTML pages (:mod:`.report`)."""
