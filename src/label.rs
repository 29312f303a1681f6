//! Locales (ISO 639-3 with an optional ISO 3166-1 country) and language-labelled text.
