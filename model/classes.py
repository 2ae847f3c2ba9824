"""The two classes, in the network's order, and how a set's counts of them read; free of the image decoders."""
CLASS_NAMES = ("NORMAL", "PNEUMONIA")


def counts_phrase(counts: dict[str, int], joiner: str = ", ") -> str:
    """'59 NORMAL, 98 PNEUMONIA': a set's class counts in words, in the class order."""
    return joiner.join(f"{counts[name]} {name}" for name in CLASS_NAMES)
