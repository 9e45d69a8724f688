"""Whisper's 99 languages: their codes in Whisper's token order, and the user's folder names mapped to them.

WHISPER_CODES is the order of the language tokens (<|en|>, <|zh|>, ...) of the multilingual
models up to large-v2, i.e. the order of LanguageHead's logits (tests check it against the
installed vocabulary). `code_for` lets a folder name such as "French" or "Mandarin" find its
token, so the Keras model can add Whisper's own opinion for the user's languages.
"""
from __future__ import annotations

# code -> Whisper's English name (openai/whisper tokenizer.py LANGUAGES), in token order.
NAMES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese",
}
WHISPER_CODES = tuple(NAMES)
# Other English names a folder may carry.
ALIASES = {"mandarin": "zh", "burmese": "my", "castilian": "es", "flemish": "nl", "haitian": "ht",
           "letzeburgesch": "lb", "moldavian": "ro", "moldovan": "ro", "panjabi": "pa", "pushto": "ps",
           "sinhalese": "si", "valencian": "ca", "farsi": "fa", "javanese": "jw"}
_BY_NAME = {**{name: code for code, name in NAMES.items()}, **ALIASES}


def code_for(name: str) -> str | None:
    """'French' / 'french' / 'fr' / 'Mandarin' -> Whisper's code ('fr', 'zh'); None when Whisper lacks it."""
    key = " ".join(name.strip().lower().replace("_", " ").split())
    if key in NAMES:
        return key
    return _BY_NAME.get(key)


def name_for(code: str) -> str:
    """'fr' -> 'French' (Whisper's English name, capitalised)."""
    return NAMES[code].title()
