"""Sentence pairs for the translation tab: a built-in English -> French sample, and user tables.

The built-in pairs are generated here from a small grammar written for this project (MIT): subject,
conjugated verb, determiner, noun and colour, optional negation and time, one or two clauses. The French follows the real
rules a model has to learn: verb agreement with the person, noun gender on the article and the
adjective, colours after the noun (the words swap places: attention has to look back), "je" eliding
before a vowel, and "un/une" becoming "de" under negation.
"""
from __future__ import annotations

import random
import re
from typing import Any

from common.i18n import t

from .config import TrainingError
from .bert_data import _pick, read_table

# person: 0 je/I, 1 tu/you, 2 il/he, 3 elle/she, 4 nous/we, 5 ils/they
_SUBJECTS = [("I", "je"), ("you", "tu"), ("he", "il"), ("she", "elle"), ("we", "nous"), ("they", "ils")]
_VERBS = {  # english base, 3rd person -s form, french forms per person
    "see": ("sees", ["vois", "vois", "voit", "voit", "voyons", "voient"]),
    "eat": ("eats", ["mange", "manges", "mange", "mange", "mangeons", "mangent"]),
    "like": ("likes", ["aime", "aimes", "aime", "aime", "aimons", "aiment"]),
    "have": ("has", ["ai", "as", "a", "a", "avons", "ont"]),
    "want": ("wants", ["veux", "veux", "veut", "veut", "voulons", "veulent"]),
    "buy": ("buys", ["achète", "achètes", "achète", "achète", "achetons", "achètent"]),
    "find": ("finds", ["trouve", "trouves", "trouve", "trouve", "trouvons", "trouvent"]),
    "draw": ("draws", ["dessine", "dessines", "dessine", "dessine", "dessinons", "dessinent"]),
}
_NOUNS = {"apple": ("pomme", "f"), "book": ("livre", "m"), "car": ("voiture", "f"), "house": ("maison", "f"),
          "dog": ("chien", "m"), "cat": ("chat", "m"), "letter": ("lettre", "f"), "bike": ("vélo", "m"),
          "flower": ("fleur", "f"), "hat": ("chapeau", "m"), "table": ("table", "f"), "shirt": ("chemise", "f")}
_COLOURS = {"red": ("rouge", "rouge"), "black": ("noir", "noire"), "green": ("vert", "verte"),
            "blue": ("bleu", "bleue"), "white": ("blanc", "blanche"), "grey": ("gris", "grise")}
_DETS = {"the": ("le", "la"), "a": ("un", "une"), "my": ("mon", "ma")}


def _pair(rng: random.Random) -> tuple[str, str]:
    person = rng.randrange(6)
    en_subj, fr_subj = _SUBJECTS[person]
    verb = rng.choice(list(_VERBS))
    third, fr_forms = _VERBS[verb]
    noun = rng.choice(list(_NOUNS))
    fr_noun, gender = _NOUNS[noun]
    det = rng.choice(list(_DETS))
    colour = rng.choice([None, *_COLOURS]) if rng.random() < 0.6 else None
    negative = rng.random() < 0.3
    today = rng.random() < 0.25
    third_person = person in (2, 3)
    fr_verb = fr_forms[person]
    if negative:
        en_verb = f"{'does' if third_person else 'do'} not {verb}"
        ne = "n'" if fr_verb[0] in "aeiouéè" else "ne "
        fr_core = f"{fr_subj} {ne}{fr_verb} pas"
    else:
        en_verb = third if third_person else verb
        fr_core = f"{fr_subj} {fr_verb}"
    fr_core = re.sub(r"^je (?=[aeiouéè])", "j'", fr_core)  # j'aime, j'ai, j'achète
    fr_det = _DETS[det][gender == "f"]
    if negative and det == "a":
        fr_det = "de"  # je ne vois pas de chien
    fr_obj = f"{fr_det} {fr_noun}" if not (fr_det == "de" and fr_noun[0] in "aeiou") else f"d'{fr_noun}"
    en_obj = f"{'an' if det == 'a' and (colour or noun)[0] in 'aeiou' else det} {colour + ' ' if colour else ''}{noun}"
    if colour:
        fr_obj += " " + _COLOURS[colour][gender == "f"]
    en = f"{en_subj} {en_verb} {en_obj}{' today' if today else ''} ."
    fr = f"{fr_core} {fr_obj}{' aujourd&apos;hui' if today else ''} .".replace("&apos;", "'")
    return en[0].upper() + en[1:], fr[0].upper() + fr[1:]


def _long_pair(rng: random.Random) -> tuple[str, str]:
    """One or two clauses: "I see the dog , and she buys a red car ." -- long enough that squeezing the
    whole source into one vector (no attention) starts to lose words."""
    en, fr = _pair(rng)
    if rng.random() < 0.5:
        en2, fr2 = _pair(rng)
        en = f"{en[:-2]} , and {en2[0].lower() + en2[1:] if not en2.startswith('I ') else en2}"
        fr = f"{fr[:-2]} , et {fr2[0].lower() + fr2[1:]}"
    return en, fr


def builtin_pairs(n_train: int = 4000, n_val: int = 300, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """English -> French pairs; validation pairs never appear in training."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    while len(rows) < n_train + n_val:
        en, fr = _long_pair(rng)
        if en not in seen:
            seen.add(en)
            rows.append({"source": en, "target": fr})
    return rows[:n_train], rows[n_train:]


SOURCE_COLUMNS = ("source", "src", "en", "english", "input", "text")
TARGET_COLUMNS = ("target", "tgt", "fr", "french", "output", "translation")


def pair_columns(columns: list[str], source_column: str = "", target_column: str = "") -> tuple[str, str]:
    """(source, target) columns of a table: the ones named, or guessed from the usual names."""
    if not source_column and not target_column and len(columns) == 2 and not set(columns) & set(TARGET_COLUMNS):
        return columns[0], columns[1]  # two columns (en, de...): the first is the source
    return (_pick(columns, source_column, SOURCE_COLUMNS, t("trainer.what_source")),  # type: ignore[return-value]
            _pick(columns, target_column, TARGET_COLUMNS, t("trainer.what_target")))


def table_pairs(spec: str, hub_spec: str, source_column: str = "", target_column: str = "", val_split: float = 0.1,
                seed: int = 0) -> tuple[list[dict], list[dict], list[str]]:
    """(train, val, notes) from a TSV/CSV/JSONL file or a dataset repo with a source and a target column."""
    df = read_table(spec, hub_spec)
    src, tgt = pair_columns([str(c) for c in df.columns], source_column, target_column)
    rows, skipped = [], 0
    for i, rec in enumerate(df.to_dict("records"), start=1):
        s, tg = rec[src], rec[tgt]
        s_ok, t_ok = bool(isinstance(s, str) and s.strip()), bool(isinstance(tg, str) and tg.strip())
        if s_ok != t_ok:
            raise TrainingError(t("trainer.source_without_target" if s_ok else "trainer.target_without_source", row=i))
        if not s_ok:
            skipped += 1
            continue
        rows.append({"source": s.strip(), "target": tg.strip()})
    if len(rows) < 10:
        raise TrainingError(t("trainer.too_few_pairs", count=len(rows)))
    random.Random(seed).shuffle(rows)
    n_val = max(1, int(len(rows) * val_split))
    notes = [f"columns: source={src}, target={tgt}"] + ([f"skipped {skipped} empty rows"] if skipped else [])
    return rows[n_val:], rows[:n_val], notes
