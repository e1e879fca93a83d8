"""Helpers for demo data. Everything they make is labelled 演示 (demo) where a person sees it."""

from stdnum.cn import uscc


def demo_uscc(body17: str) -> str:
    """A USCC with a correct GB 32100 check character, for demo records only."""
    return body17 + uscc.calc_check_digit(body17)
