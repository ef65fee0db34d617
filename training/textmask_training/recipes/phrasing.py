"""Other ways to name a class: plural, "the X", "all the X" and common synonyms.

Synonyms here never name another class of the default training data (a "bag" is not a
"purse" there), so a variant never points at a different object.
"""

from __future__ import annotations

import random

IRREGULAR_PLURALS = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "sheep": "sheep",
    "skin": "skin",
    "hair": "hair",
    "grass": "grass",
    "sky": "sky",
    "food": "food",
    "dirt": "dirt",
    "sand": "sand",
    "snow": "snow",
    "paper": "paper",
    "water": "water",
}

# Words that are already plural or uncountable in the class list.
PLURAL_FORMS = {
    "pants",
    "jeans",
    "shoes",
    "sunglasses",
    "glasses",
    "shorts",
    "socks",
    "boots",
    "sandals",
    "leggings",
    "stockings",
    "tights",
    "loafers",
    "heels",
    "pumps",
    "sneakers",
    "flats",
    "gloves",
    "clogs",
    "wedges",
    "scissors",
    "skis",
}

SYNONYMS = {
    "person": ["human", "human being"],
    "pants": ["trousers"],
    "sunglasses": ["shades"],
    "t-shirt": ["tee", "tshirt"],
    "shoes": ["footwear"],
    "sneakers": ["trainers"],
    "car": ["automobile"],
    "dog": ["puppy"],
    "cat": ["kitty"],
    "couch": ["sofa"],
    "tv": ["television"],
    "cell phone": ["mobile phone", "smartphone"],
    "motorcycle": ["motorbike"],
    "bicycle": ["bike"],
    "potted plant": ["houseplant"],
    "road": ["street"],
    "pavement": ["sidewalk"],
    "hat": ["cap"],
    "coat": ["overcoat"],
    "sweater": ["pullover"],
    "necklace": ["pendant"],
    "bracelet": ["bangle"],
    "hair": ["hairstyle"],
    "airplane": ["plane", "aircraft"],
    "bus": ["coach bus"],
    "tree": ["trees"],
    "building": ["buildings"],
    "skirt": ["miniskirt"],
    "donut": ["doughnut"],
    "wall": ["walls"],
}


def plural(name: str) -> str:
    """Return the English plural of a class name (last word only for multi-word names)."""
    words = name.split()
    last = words[-1]
    if name in PLURAL_FORMS or last in PLURAL_FORMS:
        return name
    if last in IRREGULAR_PLURALS:
        return " ".join(words[:-1] + [IRREGULAR_PLURALS[last]])
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(words[:-1] + [last])


def phrasings(name: str) -> list[str]:
    """Every phrasing of ``name`` used in training, the bare name first."""
    many = plural(name)
    variants = [name, many, f"the {name}", f"the {many}", f"all the {many}"]
    for synonym in SYNONYMS.get(name, []):
        variants += [synonym, f"the {synonym}"]
    return list(dict.fromkeys(variants))


def random_phrasing(name: str, rng: random.Random) -> str:
    """Pick a phrasing other than the bare name, or the name when it has none."""
    variants = phrasings(name)[1:]
    return rng.choice(variants) if variants else name
