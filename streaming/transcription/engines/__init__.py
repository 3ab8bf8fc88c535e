"""Speech-to-text engines behind one small interface (:mod:`.base`); no Django here."""
