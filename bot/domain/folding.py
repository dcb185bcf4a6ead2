"""Vietnamese text folded for searching: one rule for what is stored and what is typed.

People type names without diacritics on a phone ("tran van hung"), the desk writes them
in full ("Trần Văn Hưng"). Both sides are folded the same way, by `fold`, so a search
compares like with like: the case's search key is folded when the case is written
(`search_key`), the words typed are folded when they are read.
"""

from __future__ import annotations

import unicodedata

#: Letters (folded to lower case) that Unicode does not decompose into a letter and a mark.
_LETTERS = str.maketrans({"đ": "d", "ð": "d", "ł": "l", "ø": "o", "æ": "ae"})
#: Longest search key kept (the column's width): ref, dossier number and name fit.
MAX_KEY = 400


def fold(text: str) -> str:
    """Lower case, without diacritics, spaces collapsed: "Trần  Văn Hưng" -> "tran van hung"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFKC", bare).casefold().translate(_LETTERS).split())


def search_key(ref: str, external_ref: str | None, customer_name: str) -> str:
    """What a case is found by: its ref, the desk's dossier number and the customer's name."""
    return fold(" ".join(part for part in (ref, external_ref or "", customer_name) if part))[
        :MAX_KEY
    ]
