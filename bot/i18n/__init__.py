"""Omnicord's own words in the members' languages (the model answers in theirs by itself).

``t(language, key, **values)`` renders a message of the catalogue (``omnicord.i18n.catalogue``)
in one of ``LANGUAGES``, falling back to English; ``text(key, **values)`` is the same message
kept for later (an error raised in the core, rendered by whoever shows it); ``language_of``
turns a Discord locale into a catalogue language. Numbers and durations are formatted for the
language, and a message may have plural forms.
"""

from omnicord.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES, language_name, language_of
from omnicord.i18n.text import Text, t, text

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Text", "language_name", "language_of", "t",
           "text"]
