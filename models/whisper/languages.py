"""Whisper's 99 languages: codes in Whisper's token order, their English names, and the
mapping from a user's language folder name ("French", "mandarin", "fr") to a Whisper code.

The table is Whisper's own (openai/whisper tokenizer.py LANGUAGES, multilingual models up
to large-v2; large-v3's 100th, Cantonese, is not in Whisper-base). Its order is the order
of the language tokens <|en|>, <|zh|>, ... in the model's config `lang_ids`, so a [99]
vector of Whisper language probabilities is indexed by `CODES` (a test checks the order
against the installed weights).
"""
from __future__ import annotations

import numpy as np

# code -> English name, in Whisper's token order
NAMES: dict[str, str] = {
    "en": "English", "zh": "Chinese", "de": "German", "es": "Spanish", "ru": "Russian",
    "ko": "Korean", "fr": "French", "ja": "Japanese", "pt": "Portuguese", "tr": "Turkish",
    "pl": "Polish", "ca": "Catalan", "nl": "Dutch", "ar": "Arabic", "sv": "Swedish",
    "it": "Italian", "id": "Indonesian", "hi": "Hindi", "fi": "Finnish", "vi": "Vietnamese",
    "he": "Hebrew", "uk": "Ukrainian", "el": "Greek", "ms": "Malay", "cs": "Czech",
    "ro": "Romanian", "da": "Danish", "hu": "Hungarian", "ta": "Tamil", "no": "Norwegian",
    "th": "Thai", "ur": "Urdu", "hr": "Croatian", "bg": "Bulgarian", "lt": "Lithuanian",
    "la": "Latin", "mi": "Maori", "ml": "Malayalam", "cy": "Welsh", "sk": "Slovak",
    "te": "Telugu", "fa": "Persian", "lv": "Latvian", "bn": "Bengali", "sr": "Serbian",
    "az": "Azerbaijani", "sl": "Slovenian", "kn": "Kannada", "et": "Estonian", "mk": "Macedonian",
    "br": "Breton", "eu": "Basque", "is": "Icelandic", "hy": "Armenian", "ne": "Nepali",
    "mn": "Mongolian", "bs": "Bosnian", "kk": "Kazakh", "sq": "Albanian", "sw": "Swahili",
    "gl": "Galician", "mr": "Marathi", "pa": "Punjabi", "si": "Sinhala", "km": "Khmer",
    "sn": "Shona", "yo": "Yoruba", "so": "Somali", "af": "Afrikaans", "oc": "Occitan",
    "ka": "Georgian", "be": "Belarusian", "tg": "Tajik", "sd": "Sindhi", "gu": "Gujarati",
    "am": "Amharic", "yi": "Yiddish", "lo": "Lao", "uz": "Uzbek", "fo": "Faroese",
    "ht": "Haitian Creole", "ps": "Pashto", "tk": "Turkmen", "nn": "Nynorsk", "mt": "Maltese",
    "sa": "Sanskrit", "lb": "Luxembourgish", "my": "Myanmar", "bo": "Tibetan", "tl": "Tagalog",
    "mg": "Malagasy", "as": "Assamese", "tt": "Tatar", "haw": "Hawaiian", "ln": "Lingala",
    "ha": "Hausa", "ba": "Bashkir", "jw": "Javanese", "su": "Sundanese",
}
CODES: tuple[str, ...] = tuple(NAMES)
# other names people use for a language Whisper knows (Whisper's own aliases, plus a few)
ALIASES: dict[str, str] = {
    "mandarin": "zh", "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht",
    "letzeburgesch": "lb", "pushto": "ps", "panjabi": "pa", "moldavian": "ro", "moldovan": "ro",
    "sinhalese": "si", "castilian": "es", "farsi": "fa", "norwegian bokmal": "no", "bokmal": "no",
    "filipino": "tl", "hawaiian": "haw",
}
_BY_NAME = {**{name.lower(): code for code, name in NAMES.items()}, **ALIASES}


class UnknownLanguageName(ValueError):
    """A language name that is none of Whisper's 99 languages (nor an alias of one)."""


def code_for(name: str) -> str:
    """Whisper code of a language folder name: an English name or alias (any case, "_"/"-" as
    spaces) or a code itself ("fr"). UnknownLanguageName for anything else."""
    key = " ".join(str(name).replace("_", " ").replace("-", " ").split()).lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    if key in NAMES:
        return key
    raise UnknownLanguageName(f"language {name!r} is none of Whisper's {len(CODES)} languages "
                              f"(English names such as 'French', aliases such as 'Mandarin', or codes such as 'fr')")


def codes_for(names) -> tuple[str, ...]:
    """Whisper codes of a model's languages, in the model's order; each must be distinct."""
    codes = tuple(code_for(n) for n in names)
    if len(set(codes)) != len(codes):
        raise UnknownLanguageName(f"languages {list(names)} name the same Whisper language twice: {codes}")
    return codes


def indices_for(names) -> np.ndarray:
    """Positions in Whisper's [99] vector of a model's languages, in the model's order."""
    return np.array([CODES.index(c) for c in codes_for(names)], np.int64)


def name_of(code: str) -> str:
    """English name of a Whisper code ('it' -> 'Italian')."""
    return NAMES[code]
